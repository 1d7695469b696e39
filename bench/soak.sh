#!/usr/bin/env bash
# Soak of Tessera's bench app (samples/BenchServer), loopback only: CONNECTIONS authenticated WebSocket connections
# (opened 100 at a time) held for MINUTES, every server ping answered, a light echo load (RATE `echo` events with an
# ack per second in total, each on a random connection). Every 10 s the server's RSS (/proc/<pid>/status VmRSS), the
# connections open, the drops and the acks go to a CSV; at the end a JSON summary (drops with the server's own
# Engine.IO close reasons, missed heartbeats, lost acks = not acked within 10 s) and docs/soak.png (gnuplot).
# See docs/reliability.md, "Soak". Bounded: the generator stops by itself; `timeout` is a second bound.
#
#   bash bench/soak.sh                                   # 19,000 connections, 30 minutes (~33 min in all)
#   CONNECTIONS=500 MINUTES=1 PLOT=/tmp/soak.png bash bench/soak.sh   # a smoke run
#
# Each process needs a descriptor per connection: the soft limit is raised as far as the hard limit allows
# (raising the hard limit needs CAP_SYS_RESOURCE).
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=${CONNECTIONS:-19000}
MINUTES=${MINUTES:-30}
RATE=${RATE:-50}
PORT=${PORT:-3960}
SETTLE=${SETTLE:-60}
PLOT=${PLOT:-docs/soak.png}
OUT=${OUT:-$(mktemp -d /tmp/tessera-soak.XXXXXX)}
export JWT_SECRET=${JWT_SECRET:-bench-secret-that-is-long-enough-for-hs256}
# Not pinned by default (SERVER_CPUS=0 CLIENT_CPUS=1 pins as bench/run.sh does): on this machine one core at a time
# has been seen taken for 30-70 s by the kernel (dmesg: "workqueue lockup", page_reporting_process), which stops a
# process pinned to it; unpinned, the other core picks it up. The CPU probes below record such stalls per core.
SERVER_CPUS=${SERVER_CPUS-}
CLIENT_CPUS=${CLIENT_CPUS-}
pinned() { # cpus: the command prefix that pins to them (none when empty)
  if [ -n "$1" ]; then echo "taskset -c $1"; fi
}

want=$((CONNECTIONS + 500))
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
  echo "open files limited to $(ulimit -n) (hard $(ulimit -Hn)), below the $want needed: lower CONNECTIONS or raise the hard limit" >&2
  exit 1
fi

command -v gnuplot >/dev/null || { apt-get install -y --no-install-recommends gnuplot-nox >/dev/null || { apt-get update >/dev/null && apt-get install -y --no-install-recommends gnuplot-nox >/dev/null; }; }

# Built, then copied into this run's directory: a rebuild elsewhere cannot change the binaries under a 30-minute run.
# (Two cores are shared with other work: every build takes the build lock.)
mkdir -p "$OUT/server" "$OUT/tool"
flock /tmp/tessera-build.lock dotnet build -c Release -nologo -clp:ErrorsOnly samples/BenchServer
cp -r samples/BenchServer/bin/Release/net10.0/. "$OUT/server/"
flock /tmp/tessera-build.lock dotnet build -c Release -nologo -clp:ErrorsOnly bench/Tessera.Bench
cp -r bench/Tessera.Bench/bin/Release/net10.0/. "$OUT/tool/"

# One probe per core: wakes every second and logs each wake-up more than 2 s late (its core did not run it).
probe() { # cpu seconds
  taskset -cp "$1" "$BASHPID" >/dev/null
  local prev=$EPOCHREALTIME now end=$(( ${EPOCHREALTIME%.*} + $2 ))
  while [ "${EPOCHREALTIME%.*}" -lt "$end" ]; do
    sleep 1
    now=$EPOCHREALTIME
    awk -v a="$prev" -v b="$now" -v c="$1" 'BEGIN { if (b - a > 3) printf "%s cpu%d stalled %.1f s\n", strftime("%H:%M:%S", b), c, b - a - 1 }'
    prev=$now
  done
}
PROBES=()
: > "$OUT/cpu-stalls.log"
for cpu in $(seq 0 $(($(nproc) - 1))); do
  probe "$cpu" "$(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 + 1200 }')" >> "$OUT/cpu-stalls.log" 2>&1 &
  PROBES+=($!)
done
stop_probes() { for p in "${PROBES[@]}"; do kill "$p" 2>/dev/null || true; done; }

# The bench app as bench/run.sh starts it (inline socket completions), on 127.0.0.1 only, with the Engine.IO
# category at Debug: one line per session opened and closed, with the server's close reason ("ping timeout", ...).
# shellcheck disable=SC2046 # the pinning prefix is split on purpose
env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 PORT="$PORT" 'Logging__LogLevel__Tessera.EngineIO=Debug' \
  $(pinned "$SERVER_CPUS") dotnet "$OUT/server/BenchServer.dll" --urls "http://127.0.0.1:$PORT" > "$OUT/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; stop_probes' EXIT
for _ in $(seq 1 150); do
  curl -fs "http://127.0.0.1:$PORT/stats" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$PORT/stats" >/dev/null || { echo "the bench app did not start (log: $OUT/server.log)" >&2; exit 1; }
# `env` and `taskset` exec: $! is the server itself (checked: RSS must be the bench app's).
grep -q BenchServer "/proc/$SERVER_PID/cmdline" || { echo "pid $SERVER_PID is not the bench app" >&2; exit 1; }
echo "soak: bench app pid $SERVER_PID on 127.0.0.1:$PORT; $CONNECTIONS connections, $MINUTES min, $RATE echo/s; output in $OUT" >&2

bound=$(awk -v m="$MINUTES" -v s="$SETTLE" 'BEGIN { printf "%d", m * 60 + s + 900 }')
# The generator signs its tokens with JWT_SECRET from the environment.
# shellcheck disable=SC2046
timeout "$bound" $(pinned "$CLIENT_CPUS") dotnet "$OUT/tool/Tessera.Bench.dll" \
  --url "http://127.0.0.1:$PORT" --scenario soak --pid "$SERVER_PID" \
  --connections "$CONNECTIONS" --minutes "$MINUTES" --rate "$RATE" --batch 100 --sample-seconds 10 --ack-timeout 10 \
  --settle "$SETTLE" --csv "$OUT/soak.csv" --events "$OUT/events.jsonl" --summary "$OUT/summary.json" \
  --server-log "$OUT/server.log" > "$OUT/result.json" 2> "$OUT/generator.log" || status=$?
status=${status:-0}
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
stop_probes
trap - EXIT

# RSS (MB) and connections open over time; the soak window between the dashed lines. Drawn in $OUT, and copied to
# $PLOT only when the run finished (exit 0 and a summary): an interrupted or failed run never replaces the published plot.
read -r soak_start soak_end < <(awk -F, '$2 == "soak" { if (s == "") s = $1; e = $1 } END { print s / 60, e / 60 }' "$OUT/soak.csv")
gnuplot <<EOF
set terminal pngcairo size 1100,560 font "sans,10"
set output "$OUT/soak.png"
set datafile separator ","
set key bottom right box opaque
set title "Tessera bench app soak: $CONNECTIONS WebSocket connections, $RATE echo acks/s, $MINUTES min (loopback, $(nproc) cores shared)"
set xlabel "minutes since the generator started"
set ylabel "server RSS (MB, VmRSS)"
set y2label "connections open"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:$((CONNECTIONS * 6 / 5))]
set grid
set arrow from $soak_start, graph 0 to $soak_start, graph 1 nohead dt 2 lc rgb "gray40"
set arrow from $soak_end, graph 0 to $soak_end, graph 1 nohead dt 2 lc rgb "gray40"
plot "$OUT/soak.csv" skip 1 using (\$1/60):(\$3/1024) with linespoints pt 7 ps 0.4 lw 2 lc rgb "#1f77b4" title "server RSS", \
     "" skip 1 using (\$1/60):8 axes x1y2 with lines lw 1 lc rgb "#ff7f0e" title "connections open (client)", \
     "" skip 1 using (\$1/60):5 axes x1y2 with points pt 1 ps 0.6 lc rgb "#2ca02c" title "sockets (server /stats)"
EOF

if [ "$status" = 0 ] && [ -s "$OUT/summary.json" ] && ! grep -q '"interrupted": "' "$OUT/summary.json"; then
  mkdir -p "$(dirname "$PLOT")"
  cp "$OUT/soak.png" "$PLOT"
else
  echo "the run did not finish cleanly (exit $status): plot left in $OUT/soak.png, $PLOT untouched" >&2
  PLOT="$OUT/soak.png"
  [ "$status" != 0 ] || status=3
fi
cat "$OUT/result.json"
echo "CPU stalls (probes): $(wc -l < "$OUT/cpu-stalls.log")" >&2
echo "summary: $OUT/summary.json; CSV: $OUT/soak.csv; events: $OUT/events.jsonl; logs: $OUT/generator.log, $OUT/server.log; plot: $PLOT" >&2
exit "$status"
