#!/usr/bin/env bash
# What the test suite needs on this machine, installed if missing: sourced by scripts/test.sh, so that the
# README's test command is the whole set-up on a fresh clone. Safe to run again: it does nothing when all is there.
#   - Debian packages: Node.js and npm, python-socketio (Debian's; there is no PyPI here), redis-server,
#     postgresql, nginx, chromium, clang and zlib1g-dev (Native AOT). Installed with apt-get when running as root; otherwise one line names them and
#     it fails. Their services are never used (the tests start their own servers on loopback ports).
#   - npm packages: `npm ci` in each folder whose lockfile the tests use, when node_modules is missing or
#     older than the lockfile.
# Exit status (of setup_test_dependencies) is non-zero, with the reason on stderr, when something cannot be had.

setup_missing_debian_packages() {
  local -a missing=()
  command -v dotnet >/dev/null 2>&1 || { echo "setup: the .NET 10 SDK is needed (dotnet is not on PATH)" >&2; return 1; }
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  # The Python client tests run Debian's interpreter with Debian's python-socketio.
  /usr/bin/python3 -c "import socketio, websocket, requests" >/dev/null 2>&1 \
    || missing+=(python3 python3-socketio python3-websocket python3-requests)
  # A real redis-server for the cluster tests (they start and stop it themselves on loopback ports).
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  # PostgreSQL's server binaries (initdb, postgres) for the database tests; each test run makes its own cluster.
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null 2>&1 || missing+=(postgresql)
  # nginx as the reverse proxy in front of the server (tests run it with their own config on a loopback port).
  command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || missing+=(nginx)
  # Debian's Chromium for the browser tests (playwright-core drives it; a downloaded browser cannot be had here).
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # Native AOT's toolchain, for the bench app's AOT build (scripts/test.sh publishes it; BenchSmokeTests runs it).
  command -v clang >/dev/null 2>&1 || missing+=(clang)
  test -f /usr/include/zlib.h || missing+=(zlib1g-dev)
  printf '%s\n' "${missing[@]}"
}

setup_test_dependencies() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  local -a missing
  mapfile -t missing < <(setup_missing_debian_packages) || return 1
  if [ ${#missing[@]} -gt 0 ] && [ -n "${missing[0]}" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "setup: missing Debian packages; install them first: sudo apt-get install ${missing[*]}" >&2
      return 1
    fi
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq || { echo "setup: apt-get update failed" >&2; return 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || { echo "setup: apt-get install ${missing[*]} failed" >&2; return 1; }
    mapfile -t missing < <(setup_missing_debian_packages)
    if [ ${#missing[@]} -gt 0 ] && [ -n "${missing[0]}" ]; then
      echo "setup: still missing after apt-get install: ${missing[*]}" >&2
      return 1
    fi
  fi

  # npm packages the tests use: the official clients and playwright-core (tests/interop), the demo page's
  # socket.io-client bundle (src/Tessera.Server/client; its build also runs npm ci when the bundle is absent), and
  # tessera-client's TypeScript compiler and socket.io-client (clients/js; JsClientTests builds it when dist/ is stale).
  local dir
  for dir in tests/interop src/Tessera.Server/client clients/js; do
    local lock="$root/$dir/package-lock.json" stamp="$root/$dir/node_modules/.package-lock.json"
    if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
      echo "setup: npm ci in $dir"
      (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error) \
        || { echo "setup: npm ci in $dir failed" >&2; return 1; }
    fi
  done
}
