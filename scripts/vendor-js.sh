#!/usr/bin/env bash
# Vendors the explorer's browser code from npm into assets/vendor/ (which the binary embeds and
# serves: nothing is fetched from a CDN at run time). Each package is fetched at the exact
# version below with `npm pack`, which checks the tarball against the registry's integrity
# hash; the files used and each package's licence are copied, and assets/vendor/vendor.lock
# records the versions and the sha256 of every file copied (tests/serve.rs checks them).
#
#   bash scripts/vendor-js.sh          # re-vendor (needs npm and the npm registry)
set -euo pipefail
cd "$(dirname "$0")/.."
out=assets/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# package@version  file-in-package  vendored-name
packages=(
  "regl-scatterplot@1.16.0 dist/regl-scatterplot.esm.js regl-scatterplot.esm.js"
  "regl@2.1.1 dist/regl.min.js regl.min.js"
  "pub-sub-es@3.0.0 dist/index.js pub-sub-es.js"
)
mkdir -p "$out"
: > "$tmp/lock"
for p in "${packages[@]}"; do
  read -r spec file name <<<"$p"
  pkg=${spec%@*}
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  tgz=$(ls "$tmp"/"${pkg}"-*.tgz)
  mkdir -p "$tmp/$pkg"
  tar xzf "$tgz" -C "$tmp/$pkg"
  cp "$tmp/$pkg/package/$file" "$out/$name"
  cp "$tmp/$pkg/package/LICENSE" "$out/$pkg.LICENSE"
  echo "$spec $name $(sha256sum "$out/$name" | cut -d' ' -f1)" >> "$tmp/lock"
  rm -f "$tgz"
done
{
  echo "# npm package@version, vendored file, sha256 (written by scripts/vendor-js.sh)"
  cat "$tmp/lock"
} > "$out/vendor.lock"
echo "vendored into $out:"
cat "$out/vendor.lock"
