#!/usr/bin/env bash
# Run the whole OrderFlow test suite: lint, import contracts and types, then every test on
# SQLite (browser tests in headless Chromium included) and the database-backed tests again on
# PostgreSQL + Redis, the two side by side (one per core). Extra arguments go to pytest
# (e.g. -k login). Nothing is skipped silently: without a reachable PostgreSQL or Chromium
# the run fails.
source "$(dirname "$0")/_venv.sh"
ensure_venv "test"
cd "$ROOT"
bin="$VENV/bin"
export PYTHONDONTWRITEBYTECODE=1

need_root_apt() {
  if [ "$(id -u)" != 0 ]; then
    echo "Missing Debian packages: $*. Install them: sudo apt-get install -y $*" >&2
    exit 1
  fi
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Browser tests drive the Debian Chromium (never a downloaded browser build); the CJK
# fonts make Chinese pages readable in the screenshots the tests save.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium chromium-driver)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages for the browser tests: ${missing[*]} ..."
  need_root_apt "${missing[@]}"
fi

echo "== ruff"
"$bin/ruff" check .
"$bin/ruff" format --check . >/dev/null || { "$bin/ruff" format --check .; exit 1; }

echo "== import contracts (pyproject.toml [tool.importlinter])"
"$bin/lint-imports" --no-cache

echo "== mypy (pyproject.toml [tool.mypy]: strict on rule_dsl and flow_engine, checked on app and templates_lib)"
"$bin/mypy"

run_pytest() {
  local label=$1; shift
  echo "== pytest ($label)"
  set +e
  "$bin/python" -m pytest "$@"
  local rc=$?
  set -e
  if [ $rc -ne 0 ]; then echo "pytest ($label) failed with exit code $rc" >&2; exit $rc; fi
}

if [ "${ORDERFLOW_TEST_SQLITE_ONLY:-0}" = 1 ] && [ "${CI:-}" != true ]; then
  run_pytest "SQLite" -p no:cacheprovider --durations=25 "$@"
  echo "!! ORDERFLOW_TEST_SQLITE_ONLY=1: the PostgreSQL + Redis pass was NOT run." >&2
  exit 0
fi

# PostgreSQL and Redis on 127.0.0.1, started with the machine's service commands if down.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "Starting PostgreSQL ..."
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  echo "Starting Redis ..."
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
fi
redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }

pg_user=${PGUSER:-postgres}
dbname="orderflow_test_$$_$(date +%s)"
psql -q -h 127.0.0.1 -U "$pg_user" -d postgres -c "CREATE DATABASE $dbname" >/dev/null
logs=$(mktemp -d)
trap 'psql -q -h 127.0.0.1 -U "$pg_user" -d postgres -c "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$logs"' EXIT

# Two streams at once, one per core, each a plain pytest run with its own log:
#   1. every test but the browser tests on SQLite, then the browser tests on SQLite;
#   2. the database-backed tests on PostgreSQL + Redis (the pure libraries do not touch a
#      database; their tests ran in stream 1).
stream() {  # stream NAME ENV... -- PYTEST-ARGS...: run pytest, its output to $logs/NAME.log
  local name=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" "$bin/python" -m pytest -p no:cacheprovider --durations=15 "$@" \
    >"$logs/$name.log" 2>&1
}
show() {  # show NAME RC LABEL: print a stream's log and say how it ended
  echo "== pytest ($3)"
  cat "$logs/$1.log"
  if [ "$2" -ne 0 ]; then echo "pytest ($3) failed with exit code $2" >&2; fi
}
pg_env=(DATABASE_URL="postgresql+psycopg://$pg_user@127.0.0.1:5432/$dbname"
        REDIS_URL="redis://127.0.0.1:6379/0" ORDERFLOW_QUEUE_NAME="orderflow-test-$$")
echo "== pytest: SQLite (then the browser tests) and PostgreSQL + Redis side by side (logs follow)"
set +e
stream postgres "${pg_env[@]}" -- -m "not browser" tests/app "$@" &
pg_pid=$!
stream sqlite -u DATABASE_URL -u REDIS_URL -- -m "not browser" "$@"
sqlite_rc=$?
stream browser -u DATABASE_URL -u REDIS_URL -- -m browser "$@"
browser_rc=$?
wait "$pg_pid"
pg_rc=$?
set -e
show sqlite "$sqlite_rc" "SQLite"
show postgres "$pg_rc" "PostgreSQL + Redis"
show browser "$browser_rc" "browser, SQLite"
# pytest exits 5 when a selection holds no test: fine for one stream (-k naming only browser
# tests), a failure when no stream ran anything.
if [ "$sqlite_rc$pg_rc$browser_rc" = 555 ]; then echo "No test matched: $*" >&2; exit 5; fi
for rc in "$sqlite_rc" "$pg_rc" "$browser_rc"; do
  [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || exit "$rc"
done
echo "== all test passes succeeded"
