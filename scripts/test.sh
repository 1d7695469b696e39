#!/usr/bin/env bash
# Runs every test of the solution (unit, real-Kestrel, and the Node/Python interop tests they drive),
# then prints one closing line "N passed, N failed, N skipped". Exit status is non-zero if anything failed
# or if no test ran at all. It first installs what the tests need and the machine lacks (scripts/setup.sh),
# so on a fresh clone this command is the whole set-up.
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# shellcheck source=scripts/setup.sh
source scripts/setup.sh
if ! setup_test_dependencies; then
  echo "set-up failed"
  echo "0 passed, 1 failed"
  exit 1
fi

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

dotnet build Tessera.slnx -c Release -nologo -clp:ErrorsOnly
build_status=$?
if [ $build_status -ne 0 ]; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# The packages (CONTRACT §7), into the local feed that samples/QuickStart restores from (QuickStartTests builds
# it). Only the libraries under src/ are packable; the apps, samples, benchmarks and tests yield no package.
rm -rf artifacts/packages
dotnet pack Tessera.slnx -c Release --no-build -nologo -clp:ErrorsOnly -o artifacts/packages
pack_status=$?
if [ $pack_status -ne 0 ] || ! compgen -G "artifacts/packages/*.nupkg" >/dev/null; then
  echo "pack failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# The bench app as bench/run.sh runs it, Native AOT (BenchSmokeTests runs its contract against this build too).
rm -rf artifacts/bench-server-aot
dotnet publish samples/BenchServer -c Release -r linux-x64 -p:PublishAot=true -nologo -clp:ErrorsOnly -o artifacts/bench-server-aot
aot_status=$?
if [ $aot_status -ne 0 ] || [ ! -x artifacts/bench-server-aot/BenchServer ]; then
  echo "Native AOT publish of the bench app failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# --blame-hang-timeout turns a hung test into a failure with a dump instead of eating CI's time.
dotnet test Tessera.slnx -c Release --no-build -nologo \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" \
  --blame-hang-timeout 5m
test_status=$?

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)"
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0})); skipped=$((skipped + ${n:-0}))
done

# The failures again, at the end, where a CI log's tail shows them: name and the first lines of the message.
if [ $failed -ne 0 ]; then
  python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for trx in glob.glob(sys.argv[1] + "/*.trx"):
    for r in ET.parse(trx).getroot().iterfind(".//t:UnitTestResult", ns):
        if r.get("outcome") in ("Failed", "Error"):
            message = r.find(".//t:ErrorInfo/t:Message", ns)
            print("FAILED " + r.get("testName", "?"))
            for line in ((message.text or "") if message is not None else "").splitlines()[:12]:
                print("    " + line)
PY
fi
if [ $test_status -ne 0 ] && [ $failed -eq 0 ]; then
  # dotnet test failed without a failing test (crash, hang, missing results): count it as a failure.
  failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
if [ $failed -ne 0 ] || [ $passed -eq 0 ]; then
  exit 1
fi
