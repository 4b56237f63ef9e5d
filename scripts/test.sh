#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite through
# ctest, printing the output of any test that fails. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir "${SENSE_BUILD_DIR:-build}" --output-on-failure -j"${SENSE_JOBS:-$(nproc)}" "$@"
