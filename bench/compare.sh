#!/usr/bin/env bash
# Run one benchmark on two commits alternately and print the ratio with its spread:
#   bench/compare.sh [--runs N] [--own-bench] A B -- bench/dsl_bench.py --orders 2000
# See bench/compare.py for what is measured and how.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="$root/.venv/bin/python"
[ -x "$py" ] || { echo "No .venv here: run 'bash scripts/test.sh' once to create it." >&2; exit 1; }
exec "$py" "$root/bench/compare.py" "$@"
