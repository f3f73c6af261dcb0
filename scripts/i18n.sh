#!/usr/bin/env bash
# Translation catalog upkeep: extract page strings, merge them into each language's
# catalog, compile. Usage: bash scripts/i18n.sh [extract|compile]
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin
case "${1:-extract}" in
  extract)
    "$py/pybabel" extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 --no-location --sort-output \
      --project OrderFlow -o app/translations/messages.pot . >/dev/null
    "$py/pybabel" update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching \
      --ignore-obsolete >/dev/null
    "$py/pybabel" compile -d app/translations --statistics
    ;;
  compile) "$py/pybabel" compile -d app/translations --statistics ;;
  *) echo "usage: $0 [extract|compile]" >&2; exit 2 ;;
esac
