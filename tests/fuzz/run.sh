#!/usr/bin/env bash
# Coverage-guided fuzzing of Tessera's parsers with SharpFuzz + AFL++ (see tests/fuzz/README.md).
#
#   tests/fuzz/run.sh [SECONDS] [TARGET ...]
#
# SECONDS per target (default 600); TARGETs default to all eight. The targets run one after another (one AFL
# instance at a time). Everything built or found goes under /tmp (FUZZ_WORK, FUZZ_OUT); afterwards the queue
# (minimised with afl-cmin when that is quick) is copied back into tests/fuzz/corpus/<target> and any crash or
# hang into tests/fuzz/crashes/<target>, so that Tessera.Fuzz.Tests replays them.
#
# Needs: afl++ (Debian: apt-get install afl++) and the SharpFuzz CLI (installed under /tmp/sharpfuzz-tool when
# missing). Every dotnet command takes the build lock (TESSERA_BUILD_LOCK, default /tmp/tessera-build.lock).
# IMPORT_ONLY=1 skips fuzzing: it only copies the queues and findings of the last run (FUZZ_OUT) back.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SECONDS_PER_TARGET=${1:-600}
shift || true
ALL_TARGETS=(polling polling-v3 websocket upgrade socketio msgpack msgpack-parser tokens)
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then TARGETS=("${ALL_TARGETS[@]}"); fi

WORK=${FUZZ_WORK:-/tmp/tessera-fuzz}
OUT=${FUZZ_OUT:-/tmp/fuzz-out}
PUBLISH=$WORK/publish
LOCK=${TESSERA_BUILD_LOCK:-/tmp/tessera-build.lock}
SHARPFUZZ_DIR=${SHARPFUZZ_DIR:-/tmp/sharpfuzz-tool}
MAX_CORPUS_FILES=${MAX_CORPUS_FILES:-250}   # per target, besides the hand-made seed-* files
MAX_CORPUS_FILE_BYTES=${MAX_CORPUS_FILE_BYTES:-8192}
CMIN_TIMEOUT=${CMIN_TIMEOUT:-300}           # seconds; past it the queue is copied as it is
DOTNET=$(command -v dotnet)

command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install -y afl++" >&2; exit 1; }
if [ ! -x "$SHARPFUZZ_DIR/sharpfuzz" ]; then
  flock "$LOCK" "$DOTNET" tool install --tool-path "$SHARPFUZZ_DIR" SharpFuzz.CommandLine --version 2.3.0
fi

IMPORT_ONLY=${IMPORT_ONLY:-0}
# Publish, then instrument the Tessera assemblies in the copy (never the build output in the repository).
if [ "$IMPORT_ONLY" != 1 ] || [ ! -f "$PUBLISH/Tessera.Fuzz.dll" ]; then
  rm -rf "$PUBLISH"
  mkdir -p "$PUBLISH" "$OUT"
  flock "$LOCK" "$DOTNET" publish "$HERE/Tessera.Fuzz/Tessera.Fuzz.csproj" -c Release -o "$PUBLISH" -p:UseAppHost=false --nologo -v quiet
  for dll in Tessera.EngineIO Tessera.SocketIO Tessera.Auth Tessera.Redis; do
    "$SHARPFUZZ_DIR/sharpfuzz" "$PUBLISH/$dll.dll"
  done
fi

export AFL_SKIP_BIN_CHECK=1                     # the target binary is dotnet; the instrumentation is in the DLLs
export AFL_SKIP_CPUFREQ=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_AFFINITY=1                        # the cores are shared: do not pin
export AFL_NO_UI=1
export AFL_ALLOW_TMP=1                          # afl-cmin refuses /tmp paths without it

stat_of() { sed -n "s/^$2 *: *//p" "$1" | head -1; }

for target in "${TARGETS[@]}"; do
  corpus=$HERE/corpus/$target
  crashes=$HERE/crashes/$target
  out=$OUT/$target
  [ -d "$corpus" ] || { echo "no corpus for $target ($corpus)" >&2; exit 1; }
  if [ "$IMPORT_ONLY" = 1 ]; then
    echo "== $target: importing $out"
  else
    rm -rf "$out"
    echo "== $target: ${SECONDS_PER_TARGET}s (log: $out.log)"
    afl-fuzz -i "$corpus" -o "$out" -t 5000 -m none -V "$SECONDS_PER_TARGET" -- "$DOTNET" "$PUBLISH/Tessera.Fuzz.dll" "$target" >"$out.log" 2>&1 || {
      echo "afl-fuzz failed for $target; see $out.log" >&2; tail -20 "$out.log" >&2; exit 1; }
  fi

  stats=$out/default/fuzzer_stats
  line="$target: run_time=$(stat_of "$stats" run_time)s execs_done=$(stat_of "$stats" execs_done) execs_per_sec=$(stat_of "$stats" execs_per_sec) corpus_count=$(stat_of "$stats" corpus_count) corpus_found=$(stat_of "$stats" corpus_found) saved_crashes=$(stat_of "$stats" saved_crashes) saved_hangs=$(stat_of "$stats" saved_hangs) edges_found=$(stat_of "$stats" edges_found) bitmap_cvg=$(stat_of "$stats" bitmap_cvg)"
  if [ "$IMPORT_ONLY" = 1 ]; then echo "$line"; else echo "$line" | tee -a "$OUT/summary.txt"; fi

  # The queue back into the corpus: minimised if afl-cmin manages in time, small files only, capped, named by
  # content (AFL's names hold ':' and vary from run to run). The hand-made seed-* files stay.
  queue=$out/default/queue
  cmin=$WORK/cmin/$target
  rm -rf "$cmin"
  if timeout "$CMIN_TIMEOUT" afl-cmin -i "$queue" -o "$cmin" -t 5000 -m none -- "$DOTNET" "$PUBLISH/Tessera.Fuzz.dll" "$target" >"$out.cmin.log" 2>&1 \
      && [ -n "$(ls -A "$cmin" 2>/dev/null)" ]; then
    source_dir=$cmin
    echo "   afl-cmin: $(ls "$queue" | grep -c '^id:') queue entries -> $(ls "$cmin" | wc -l)"
  else
    source_dir=$queue
    echo "   afl-cmin failed or took over ${CMIN_TIMEOUT}s (see $out.cmin.log): the queue is copied as it is"
  fi
  find "$corpus" -maxdepth 1 -type f ! -name 'seed-*' -delete
  find "$source_dir" -maxdepth 1 -type f -size -"$((MAX_CORPUS_FILE_BYTES + 1))"c -printf '%s %p\n' | sort -n >"$WORK/$target.files"
  head -n "$MAX_CORPUS_FILES" "$WORK/$target.files" | while read -r _ file; do
    duplicate=no
    for seed in "$corpus"/seed-*; do
      if cmp -s "$file" "$seed"; then duplicate=yes; break; fi
    done
    if [ "$duplicate" = no ]; then cp "$file" "$corpus/q-$(sha1sum "$file" | cut -c1-16)"; fi
  done
  echo "   corpus: $(ls "$corpus" | wc -l) files, $(du -sk "$corpus" | cut -f1) KB"

  # Every crash and hang is kept, to be replayed (and fixed).
  found=0
  for kind in crash hang; do
    for file in "$out/default/${kind}s"/id* "$out/default/${kind}es"/id*; do
      if [ ! -f "$file" ]; then continue; fi
      mkdir -p "$crashes"
      cp "$file" "$crashes/$kind-$(sha1sum "$file" | cut -c1-16)"
      found=$((found + 1))
    done
  done
  if [ "$found" -gt 0 ]; then echo "   $found crash/hang inputs copied to $crashes"; fi
done
echo "== summary: $OUT/summary.txt"
