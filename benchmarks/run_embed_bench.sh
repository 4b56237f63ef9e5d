#!/usr/bin/env bash
# Embedding throughput (issue 15): the default bundles through sense
# (sense-eval sts / retrieval report embedding throughput, model load and the
# similarity search excluded) and the same bundles from Python (graph
# optimised as sense does, and as stored), one thread
# each, one after the other, each in a fresh process.
#   [ROUNDS=2] benchmarks/run_embed_bench.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
pairs=$here/../../shared/data/stsb/sts-dev.csv
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
for round in $(seq 1 "${ROUNDS:-2}"); do
  echo "round $round"
  "$build/apps/sense-eval" sts "$pairs" --threads 1 --model "$here/../models/text-embed.pt" 2> /dev/null | grep throughput | sed 's/^/sense text: /'
  "$build/apps/sense-eval" retrieval /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --limit 5000 --threads 1 \
    --model "$here/../models/fashion-embed.pt" 2> /dev/null | grep throughput | sed 's/^/sense images: /'
  # each graph in a fresh process, cold, as each sense-eval run is
  for graph in optimized stored; do
    /usr/bin/python3 "$here/bench_embed_python.py" --pairs "$pairs" --images 5000 --threads 1 --graph $graph
  done
done
