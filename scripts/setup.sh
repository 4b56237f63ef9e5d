#!/usr/bin/env bash
# Sets up sense on Debian 12: installs every Debian package it needs (listed
# in scripts/debian-packages.txt; quiet and quick when they are present),
# checks that an optimised BLAS is in use, then configures and builds a
# Release tree in build/.
#
#   scripts/setup.sh            # packages + build
#   SENSE_BUILD_DIR=out scripts/setup.sh
#   SENSE_SKIP_APT=1 scripts/setup.sh   # build only
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SENSE_BUILD_DIR:-build}
JOBS=${SENSE_JOBS:-$(nproc)}

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

if [ -z "${SENSE_SKIP_APT:-}" ]; then
  mapfile -t packages < <(grep -v -E '^\s*(#|$)' scripts/debian-packages.txt)
  missing=()
  for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${#missing[@]} Debian package(s): ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # LibTorch calls whatever libblas.so.3 the alternatives system points at:
  # make sure it is OpenBLAS (about 15x the reference BLAS for float32 GEMM).
  blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
  case "$blas" in
    *openblas*) ;;
    *)
      alt=/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
      if [ -e "$alt" ]; then
        echo "setup: pointing libblas.so.3 at OpenBLAS (was ${blas:-none})"
        "${sudo_cmd[@]}" update-alternatives --set libblas.so.3-x86_64-linux-gnu "$alt" >/dev/null
      else
        echo "setup: warning: libblas.so.3 is ${blas:-missing}, not OpenBLAS; models will run slowly" >&2
      fi
      ;;
  esac
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${SENSE_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS"
echo "setup: built sense in $BUILD_DIR/ (apps in $BUILD_DIR/apps/)"
