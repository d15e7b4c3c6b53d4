#!/usr/bin/env bash
# Vendor the web pages' front-end libraries into web/vendor/ (git-ignored), from the
# versions pinned in web/package-lock.json. Nothing is loaded from a CDN at run time:
# provincial networks are closed and the tests run offline. Safe to repeat: a no-op
# while web/vendor/.installed is newer than the lock file and this script.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
stamp=vendor/.installed
if [[ -f $stamp && $stamp -nt package-lock.json && $stamp -nt vendor.sh ]]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  cat >&2 <<MSG
bando's web pages need npm (Node.js 18 or newer) once, at setup, to vendor Leaflet and
Leaflet.VectorGrid from the npm registry into web/vendor/. It is missing: install it
(Debian: 'apt-get install nodejs npm'), then run make again. Until then the site at /
answers with a page saying the front end is not installed.
MSG
  exit 7
fi
npm ci --no-audit --no-fund --loglevel=error
tmp="$(mktemp -d "$here/.vendor.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/leaflet/images" "$tmp/leaflet.vectorgrid" "$tmp/swagger-ui"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$tmp/leaflet/"
cp node_modules/leaflet/dist/images/*.png "$tmp/leaflet/images/"
cp node_modules/leaflet/LICENSE "$tmp/leaflet/"
cp node_modules/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js "$tmp/leaflet.vectorgrid/"
cp node_modules/leaflet.vectorgrid/LICENSE "$tmp/leaflet.vectorgrid/" 2>/dev/null || true
# Swagger UI for the OGC API's document page (/ogc/openapi?f=html); no source maps.
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
  node_modules/swagger-ui-dist/LICENSE "$tmp/swagger-ui/"
sed -i '/^\/\/# sourceMappingURL=/d; /^\/\*# sourceMappingURL=.*\*\/$/d' "$tmp/swagger-ui/swagger-ui-bundle.js" "$tmp/swagger-ui/swagger-ui.css"
node -e 'const l=require("./package-lock.json").packages;for(const k of ["leaflet","leaflet.vectorgrid","swagger-ui-dist"])console.log(k, l["node_modules/"+k].version)' > "$tmp/VERSIONS"
# Swap in whole, so a half-copied folder is never taken for an installed front end.
rm -rf vendor.old
[[ -d vendor ]] && mv vendor vendor.old
chmod 755 "$tmp"
mv "$tmp" vendor
rm -rf vendor.old
touch "$stamp"
echo "web front end vendored: $(tr '\n' ' ' < vendor/VERSIONS)"
