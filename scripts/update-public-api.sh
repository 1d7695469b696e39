#!/usr/bin/env bash
# Brings each package's PublicAPI.Unshipped.txt in line with its public surface, from the analyzer's own
# RS0016 (public but not declared) and RS0017 (declared but gone) diagnostics. Run it after a deliberate change
# of public API, then read the diff: every line is a promise to users.
set -uo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
dotnet build Tessera.slnx -c Release -nologo --no-incremental -p:TreatWarningsAsErrors=false >"$log" 2>&1
python3 - "$log" <<'PY'
import re, sys, collections, pathlib
add, remove = collections.defaultdict(set), collections.defaultdict(set)
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.search(r"(src/[^/(]+)/[^(]*\(\d+,\d+\): (?:warning|error) (RS001[67]): Symbol '(.*)' is (?:not part of the declared|part of the declared)", line)
    if m:
        (add if m.group(2) == "RS0016" else remove)[m.group(1)].add(m.group(3))
for project in sorted(set(add) | set(remove)):
    path = pathlib.Path(project, "PublicAPI.Unshipped.txt")
    lines = [l for l in path.read_text(encoding="utf-8").splitlines() if l and l != "#nullable enable"]
    lines = sorted((set(lines) - remove[project]) | add[project])
    path.write_text("#nullable enable\n" + "".join(l + "\n" for l in lines), encoding="utf-8")
    print(f"{path}: +{len(add[project])} -{len(remove[project])}")
PY
