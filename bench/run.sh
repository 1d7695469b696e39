#!/usr/bin/env bash
# Benchmarks Tessera's bench app against the tutorial's Node server (bench/reference) on this machine, in one run:
# each server is started fresh for every scenario, pinned to core 0, with the load generator on core 1; the two
# servers alternate for ROUNDS rounds; medians and Tessera/Node ratios go to docs/benchmarks.md and a PNG chart.
#
#   bash bench/run.sh                 # ROUNDS=3 SECONDS_PER_RUN=10 by default
#   ROUNDS=1 SECONDS_PER_RUN=3 bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
export JWT_SECRET=${JWT_SECRET:-bench-secret-that-is-long-enough-for-hs256}
RESULTS=$(mktemp -d)/results.jsonl
ulimit -n 20000

# The bench app as a user deploys it, with no environment variable a user would not set (the app applies its own
# settings): Native AOT, so a fresh process runs no JIT at all (needs clang and zlib1g-dev; scripts/setup.sh).
dotnet publish -c Release -r linux-x64 -p:PublishAot=true -nologo -clp:ErrorsOnly -o artifacts/bench-server-aot samples/BenchServer
dotnet build -c Release -nologo -clp:ErrorsOnly bench/Tessera.Bench
(cd bench/reference && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)   # playwright-core, for the chart

PORT=3900
GENERATOR="taskset -c 1 dotnet bench/Tessera.Bench/bin/Release/net10.0/Tessera.Bench.dll"

start_server() { # server -> SERVER_PID, STARTED_AT (one node, no Redis)
  STARTED_AT=$(date +%s.%N)
  start_node "$1" "$PORT"
  SERVER_PID=$NODE_PID
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

run() { # server scenario connections [seconds] label [generator options]
  start_server "$1"
  if [ "$2" = storm ]; then
    # The storm reaches a process started one second earlier (issue 18).
    sleep "$(awk -v s="$STARTED_AT" -v n="$(date +%s.%N)" 'BEGIN { d = s + 1 - n; print (d > 0 ? d : 0) }')"
  fi
  local pid
  pid=$(pgrep -P "$SERVER_PID" -f "BenchServer|server.js" || echo "$SERVER_PID")
  [ -d "/proc/$pid" ] || pid=$SERVER_PID
  $GENERATOR --url "http://127.0.0.1:$PORT" --scenario "$2" --connections "$3" --seconds "${4:-$SECONDS_PER_RUN}" --pid "$pid" ${6:-} \
    | sed "s/^{/{\"Server\":\"$1\",\"Label\":\"$5\",/" >> "$RESULTS"
  stop_server
}

# Cross-node fan-out (issue 18): two nodes of one server kind on one Redis, both pinned to core 0; the sender on node A,
# 1,000 receivers on node B; CPU of both nodes per delivery. Redis runs on core 1 with the generator.
REDIS_PORT=6390
taskset -c 1 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
REDIS_PID=$!
trap 'kill "$REDIS_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

start_node() { # server port [redis port] -> NODE_PID (the server process itself)
  local redis_env=()
  if [ -n "${3:-}" ]; then
    if [ "$1" = tessera ]; then redis_env=("REDIS=127.0.0.1:$3"); else redis_env=("REDIS_URL=redis://127.0.0.1:$3"); fi
  fi
  if [ "$1" = tessera ]; then
    env "${redis_env[@]}" PORT="$2" taskset -c 0 artifacts/bench-server-aot/BenchServer >/dev/null 2>&1 &
  else
    (cd bench/reference && exec env "${redis_env[@]}" PORT="$2" taskset -c 0 node server.js >/dev/null 2>&1) &
  fi
  NODE_PID=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$2/stats" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$1 on port $2 did not start" >&2
  return 1
}

run_cross_node() { # server
  start_node "$1" $PORT "$REDIS_PORT"; local a=$NODE_PID
  start_node "$1" $((PORT + 1)) "$REDIS_PORT"; local b=$NODE_PID
  $GENERATOR --url "http://127.0.0.1:$PORT" --receivers-url "http://127.0.0.1:$((PORT + 1))" --scenario broadcast \
    --connections 1000 --seconds "$SECONDS_PER_RUN" --pid "$a" --pid2 "$b" \
    | sed "s/^{/{\"Server\":\"$1\",\"Label\":\"cross-node-broadcast\",/" >> "$RESULTS"
  kill "$a" "$b" 2>/dev/null || true
  wait "$a" "$b" 2>/dev/null || true
}

for round in $(seq 1 "$ROUNDS"); do
  for server in tessera node; do
    echo "round $round: $server" >&2
    run "$server" handshake 32 "" handshake
    run "$server" refused 32 "" refused
    run "$server" echo 50 "" echo
    run "$server" broadcast 1000 "" broadcast
    run "$server" idle 10000 10 idle-10k
    run "$server" idle 19000 10 idle-19k
    # A fresh process: 2,000 handshakes after 200 (issue 18's table), the first 2 s of fan-out, a reconnect storm,
    # and the browsers' default handshake (polling, CONNECT over polling, WebSocket upgrade).
    run "$server" handshake 50 60 fresh-handshake "--warmup 0 --warmup-operations 200 --max-operations 2000"
    run "$server" refused 50 60 fresh-refused "--warmup 0 --warmup-operations 200 --max-operations 2000"
    run "$server" broadcast 1000 2 fresh-broadcast "--warmup 0"
    run "$server" storm 10000 60 storm
    run "$server" browser 50 "" browser
    run_cross_node "$server"
  done
done

node bench/report.mjs "$RESULTS" "${RESULTS%.jsonl}.md" docs/benchmarks.png
echo "results: $RESULTS; table: ${RESULTS%.jsonl}.md (paste into docs/benchmarks.md); chart: docs/benchmarks.png" >&2
