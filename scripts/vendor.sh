#!/usr/bin/env bash
# Re-fetch the vendored front-end libraries from the npm registry at their pinned versions.
# Usage: bash scripts/vendor.sh   (needs npm; the files are committed, so running OrderFlow
# never needs this script or network access)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name@version  file-in-package  target-folder
while read -r spec src target; do
  [ -z "$spec" ] && continue
  ( cd "$work" && npm pack --silent "$spec" >/dev/null )
  tarball=$(ls "$work"/*.tgz)
  mkdir -p "$work/x" "$dest/$target"
  tar xzf "$tarball" -C "$work/x"
  cp "$work/x/package/$src" "$dest/$target/"
  cp "$work/x/package/LICENSE"* "$dest/$target/" 2>/dev/null || true
  rm -rf "$work/x" "$tarball"
  echo "vendored $spec -> $dest/$target/$(basename "$src")"
done <<'LIST'
htmx.org@2.0.11 dist/htmx.min.js htmx
@antv/x6@3.1.8 dist/x6.min.js x6
@dagrejs/dagre@1.1.4 dist/dagre.min.js dagre
echarts@6.1.0 dist/echarts.min.js echarts
echarts@6.1.0 NOTICE echarts
axe-core@4.14.1 axe.min.js axe-core
LIST
