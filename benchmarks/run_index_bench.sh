#!/usr/bin/env bash
# The vector index benchmark (issue 15): SIFT descriptors from the shared
# photos (benchmarks/make_sift_vectors.py), then sense's index (bench_index)
# and faiss from Python (bench_index_python.py) on the same vectors and
# settings, one thread each, one after the other, at each size.
#   benchmarks/run_index_bench.sh [BUILD_DIR] [SIZES]   (default: build "10000 100000")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
sizes=${2:-"10000 100000"}
max=$(echo $sizes | tr ' ' '\n' | sort -n | tail -1)
data=${SIFT_DIR:-/tmp/sense-sift-$max}
[ -f "$data/base.npy" ] || /usr/bin/python3 "$here/make_sift_vectors.py" --n "$max" --out "$data"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
for n in $sizes; do
  "$build/benchmarks/bench_index" "$data/base.npy" "$data/queries.npy" --n "$n" --ef 32,64,128
  /usr/bin/python3 "$here/bench_index_python.py" "$data/base.npy" "$data/queries.npy" --n "$n" --ef 32,64,128
done
