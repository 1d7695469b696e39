#!/usr/bin/env bash
# Hostile load against the product server (src/Tessera.Server), loopback only: 100 legitimate chat clients measured
# during a quiet baseline, then during each of five attacks run one at a time (handshake flood, CONNECT flood,
# 10,000 slowloris connections, ping flood, event flood), then quiet again. Prints the table of docs/reliability.md
# ("Hostile load"). About 3.5 minutes with the defaults, build included.
#
#   bash bench/hostile.sh
#   SECONDS_PER_SCENARIO=3 SLOWLORIS=1000 bash bench/hostile.sh          # a smoke run
#   SCENARIOS=baseline,ping bash bench/hostile.sh                        # some of the scenarios
#
# The server is started here with a fresh temporary data directory on 127.0.0.1:$PORT, its own limits at their
# defaults (Tessera:Limits:*) except the login limit per address, raised for the tool's own setup (100 users
# register and log in from 127.0.0.1). The server runs on core $SERVER_CPUS, the tool on $CLIENT_CPUS; each attack
# is a process of its own at nice 5 (ATTACK_PREFIX to change): it takes the client core's spare time but mostly
# yields to the legitimate clients' process, so that their latency is the server's, not the load generator's (the
# table's "client lag" column checks that).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_SCENARIO=${SECONDS_PER_SCENARIO:-20}
SLOWLORIS=${SLOWLORIS:-10000}
CLIENTS=${CLIENTS:-100}
RATE=${RATE:-2}
PORT=${PORT:-3950}
SCENARIOS=${SCENARIOS:-baseline,handshake,connect,slowloris,ping,event,after}
OUT=${OUT:-$(mktemp -d /tmp/tessera-hostile.XXXXXX)}
if [ "$(nproc)" -ge 2 ]; then
  SERVER_CPUS=${SERVER_CPUS:-0}
  CLIENT_CPUS=${CLIENT_CPUS:-1}
fi

# 10,000 half-open connections: the server and the attacker each hold one descriptor per connection.
want=$((SLOWLORIS + 2000))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want" ]; then
  echo "the hard limit on open files ($(ulimit -Hn)) is below $want: lower SLOWLORIS or raise it" >&2
  exit 1
fi
ulimit -n "$want"

# Built into this run's directory, so a rebuild elsewhere cannot change the binaries under a running measurement.
# (Two cores are shared with other work: every build takes the build lock.)
mkdir -p "$OUT/server" "$OUT/tool"
flock /tmp/tessera-build.lock dotnet build -c Release -nologo -clp:ErrorsOnly src/Tessera.Server
cp -r src/Tessera.Server/bin/Release/net10.0/. "$OUT/server/"
flock /tmp/tessera-build.lock dotnet build -c Release -nologo -clp:ErrorsOnly bench/Tessera.Hostile
cp -r bench/Tessera.Hostile/bin/Release/net10.0/. "$OUT/tool/"

URL="http://127.0.0.1:$PORT"
if curl -fs "$URL/healthz" >/dev/null 2>&1; then
  echo "something already listens on $URL: set PORT" >&2
  exit 1
fi
# From its own directory (the content root), so that its appsettings.json (log levels) applies as it ships.
(cd "$OUT/server" && exec ${SERVER_CPUS:+taskset -c $SERVER_CPUS} dotnet Tessera.Server.dll --urls "$URL" \
  --Tessera:DataDirectory="$OUT/data" --Tessera:Auth:LoginsPerMinutePerAddress=100000 >"$OUT/server.log" 2>&1) &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  curl -fs "$URL/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -fs "$URL/healthz" >/dev/null || { echo "the server did not start" >&2; exit 1; }

# Nice 5: when both want the client core, the legitimate clients' process gets three quarters of it and wins its
# wake-ups, yet an attack is never starved (at nice 19 or SCHED_IDLE, any other load on the machine starves it,
# and its 20 s run takes minutes).
ATTACK_PREFIX=${ATTACK_PREFIX:-nice -n 5}
TOOL="$OUT/tool/Tessera.Hostile.dll"
TOKENS="$OUT/flood.tokens"

# Two long-lived processes, each driven line by line through a FIFO: the legitimate clients (and the measurements),
# and the attacker, which runs one attack at a time between the phase's "begin" and "end". (Nothing is started or
# stopped between phases: a process's exit, seen from its parent, was observed to stall for minutes on this
# machine.)
mkfifo "$OUT/run.in" "$OUT/run.out" "$OUT/attack.in" "$OUT/attack.out"
${CLIENT_CPUS:+taskset -c $CLIENT_CPUS} dotnet "$TOOL" run --url "$URL" --pid "$SERVER_PID" --clients "$CLIENTS" \
  --rate "$RATE" --tokens-file "$TOKENS" --json "$OUT/results.jsonl" --markdown "$OUT/table.md" \
  <"$OUT/run.in" >"$OUT/run.out" 2> >(tee -a "$OUT/run.log" >&2) &
RUNNER_PID=$!
${CLIENT_CPUS:+taskset -c $CLIENT_CPUS} $ATTACK_PREFIX dotnet "$TOOL" attack serve --url "$URL" --tokens-file "$TOKENS" \
  <"$OUT/attack.in" >"$OUT/attack.out" 2>"$OUT/attack.log" &
ATTACKER_PID=$!
exec 7>"$OUT/run.in" 8<"$OUT/run.out" 5>"$OUT/attack.in" 6<"$OUT/attack.out"
trap 'kill "$RUNNER_PID" "$ATTACKER_PID" 2>/dev/null || true; kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT
expect() { # fd prefix timeout: the next line from fd, which must start with prefix
  local line
  if ! read -r -t "$3" -u "$1" line; then echo "the tool did not answer in $3 s (wanted '$2')" >&2; exit 1; fi
  [[ $line == "$2"* ]] || { echo "the tool answered '$line' (wanted '$2')" >&2; exit 1; }
  REPLY_LINE=$line
}

expect 6 ready 60
expect 8 ready 300
for scenario in ${SCENARIOS//,/ }; do
  echo "begin $scenario" >&7
  expect 8 "begun $scenario" 60
  case $scenario in
    baseline|quiet) sleep "$SECONDS_PER_SCENARIO"; echo "end $scenario" >&7 ;;
    after) sleep "${AFTER_SECONDS:-10}"; echo "end $scenario" >&7 ;;
    *)
      extra=""
      [ "$scenario" = slowloris ] && extra="--connections $SLOWLORIS"
      echo "$scenario --seconds $SECONDS_PER_SCENARIO $extra" >&5
      # Bounded: the attack stops itself after --seconds; an answer later than that plus a minute is a failure.
      expect 6 "{" $((${SECONDS_PER_SCENARIO%.*} + 60))
      echo "$REPLY_LINE" >"$OUT/attack-$scenario.json"
      echo "end $scenario $OUT/attack-$scenario.json" >&7 ;;
  esac
  expect 8 "ended $scenario" 90
done
echo quit >&5
echo quit >&7
wait "$RUNNER_PID" || true
wait "$ATTACKER_PID" || true

kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
trap - EXIT
cat "$OUT/table.md"
echo
echo "server log: $(grep -c '^warn:' "$OUT/server.log" || true) warnings, $(grep -c -E '^(fail|crit):' "$OUT/server.log" || true) errors ($OUT/server.log)"
echo "results: $OUT/results.jsonl (per scenario: attack counters, server /metrics deltas); table: $OUT/table.md"
