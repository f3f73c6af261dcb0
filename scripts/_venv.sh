# Sourced by run.sh and test.sh: create .venv and install OrderFlow with the given extras,
# again only when pyproject.toml or the extras change.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
ensure_venv() {
  local extras=$1
  local py=${PYTHON:-python3}
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "OrderFlow needs Python 3.11 or newer (found: $("$py" --version 2>&1))." >&2
    exit 1
  fi
  [ -x "$VENV/bin/python" ] || "$py" -m venv "$VENV"
  local stamp="$VENV/.orderflow-installed"
  local want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16) $extras"
  if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
    echo "Installing OrderFlow and its dependencies into .venv ..."
    "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -qq --disable-pip-version-check -e "$ROOT[$extras]"
    echo "$want" >>"$stamp"
  fi
}
