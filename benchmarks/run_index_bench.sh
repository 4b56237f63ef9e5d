#!/usr/bin/env bash
# The vector index benchmark (issue 15): SIFT descriptors from the shared
# photos (benchmarks/make_sift_vectors.py), then sense's index (bench_index)
# and faiss from Python (bench_index_python.py) on the same vectors and
# settings, one search thread each, alternating, ROUNDS rounds, at each size.
#   benchmarks/run_index_bench.sh [BUILD_DIR] [SIZES] [ROUNDS]   (default: build "10000 100000" 2)
# Sizes up to 100,000: each side builds its own indexes on one thread. Above
# that (e.g. 1000000), building HNSW takes a quarter of an hour, so sense
# builds the graph once (on BUILD_THREADS threads, default 2), saves it, and
# both sides load and search that same graph (queries still on one thread).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
sizes=${2:-"10000 100000"}
rounds=${3:-2}
max=$(echo $sizes | tr ' ' '\n' | sort -n | tail -1)
data=${SIFT_DIR:-/tmp/sense-sift-$max}
[ -f "$data/base.npy" ] || /usr/bin/python3 "$here/make_sift_vectors.py" --n "$max" --out "$data"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1
efs=32,48,56,64,128
for n in $sizes; do
  if [ "$n" -le 100000 ]; then
    for r in $(seq "$rounds"); do
      "$build/benchmarks/bench_index" "$data/base.npy" "$data/queries.npy" --n "$n" --ef $efs --repeat 3
      /usr/bin/python3 "$here/bench_index_python.py" "$data/base.npy" "$data/queries.npy" --n "$n" --ef $efs --repeat 3
    done
  else
    graph="$data/hnsw-$n.svix"
    [ -f "$graph" ] || OMP_NUM_THREADS=${BUILD_THREADS:-2} "$build/benchmarks/bench_index" "$data/base.npy" "$data/queries.npy" \
      --n "$n" --kinds hnsw --ef 56 --build-threads "${BUILD_THREADS:-2}" --save-hnsw "$graph"
    for r in $(seq "$rounds"); do
      "$build/benchmarks/bench_index" "$data/base.npy" "$data/queries.npy" --n "$n" --kinds hnsw --ef $efs --load-hnsw "$graph" --repeat 3
      /usr/bin/python3 "$here/bench_index_python.py" "$data/base.npy" "$data/queries.npy" --n "$n" --kinds hnsw --ef $efs \
        --load-hnsw "$graph" --repeat 3
    done
  fi
done
