#!/usr/bin/env bash
# Set up and start OrderFlow in embedded mode: SQLite under instance/, an in-process
# background worker, demo users loaded. Open http://127.0.0.1:5000 afterwards.
# Environment: PORT (default 5000), HOST (default 127.0.0.1), DATABASE_URL, REDIS_URL.
source "$(dirname "$0")/_venv.sh"
ensure_venv "postgres,redis,address"
cd "$ROOT"
of="$VENV/bin/orderflow"
"$of" db upgrade
"$of" demo
echo
echo "Log in at http://${HOST:-127.0.0.1}:${PORT:-5000}/ with one of the demo users above."
exec "$of" serve --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
