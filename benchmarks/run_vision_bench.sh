#!/usr/bin/env bash
# The sense vision benchmark (issue 3): sense vs the Python pipeline vs ONNX Runtime.
#
#   benchmarks/run_vision_bench.sh [--build DIR] [--rounds N] [--seconds S]
#                                  [--threads "1 2"] [--batches "1 16"] [--images DIR] [--out DIR]
#                                  [--variant LABEL:VAR=VALUE ...]
#
# 1. Exports a resnet18-shaped bundle with random weights (timing does not
#    depend on the weights), frozen (--optimize: kept only if it answers as
#    the unoptimised module does), plus its ONNX twin.
# 2. For every round, thread count and batch size runs, one after the other
#    and in a rotating order so that a busy machine penalises none of them
#    systematically:
#      sense   build/benchmarks/bench_classify          decode + preprocess + model, C++
#      python  benchmarks/bench_classify_python.py      PIL + torchvision transforms + the same bundle
#      python-opt  the same with --optimize: the module frozen and run through
#              optimize_for_inference at load, the graph optimisation sense applies
#      ort     benchmarks/bench_onnxruntime.js          the ONNX twin under onnxruntime-node, model only
#    on the real photos in ../shared/data/images (cycled for enough samples).
#    Each is its own process, so each peak RSS belongs to one configuration.
# 3. Prints a table of medians over rounds: wall-clock images/s, CPU ms per
#    image (steadier when other work shares the cores), sense/python and
#    sense/python-opt,
#    sense's preprocessing share, latency, peak RSS, model-only images/s for
#    sense and ONNX Runtime.
# --variant runs bench_classify once more per configuration with the
# environment variable set, reported as sense/LABEL next to sense (A/B of a
# switch in the library, measured in the same rounds).
# Raw results: OUT/results.jsonl (one JSON object per run).
#
# On a machine whose cores other work is using, wall-clock figures swing by
# 2x or more between runs, and 2-thread runs collapse: libgomp's threads spin
# at every barrier while their partner is descheduled. There, read the CPU
# ms per image columns (at 1 thread they predict an idle machine's images/s:
# 1000 / ms) and run with OMP_WAIT_POLICY=PASSIVE in the environment (it
# applies to sense and Python alike; ONNX Runtime has its own pool).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
ROUNDS=3
SECONDS_PER=6
THREADS="1 2"
BATCHES="1 16"
IMAGES=$ROOT/../shared/data/images
OUT=
PY=/usr/bin/python3
VARIANTS=()

while [[ $# -gt 0 ]]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_PER=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --batches) BATCHES=$2; shift 2 ;;
    --images) IMAGES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --variant) VARIANTS+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    *) echo "run_vision_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$BUILD/bench}
mkdir -p "$OUT"
[[ -d $IMAGES ]] || { echo "run_vision_bench.sh: no images folder $IMAGES (use --images)" >&2; exit 1; }

BENCH=$BUILD/benchmarks/bench_classify
if [[ ! -x $BENCH ]]; then
  echo "== building bench_classify in $BUILD" >&2
  cmake -S "$ROOT" -B "$BUILD" -DSENSE_BUILD_BENCHMARKS=ON >/dev/null
  cmake --build "$BUILD" --target bench_classify -j "$(nproc)" >&2
fi
if [[ ! -d $ROOT/benchmarks/node_modules/onnxruntime-node ]]; then
  echo "== npm ci --ignore-scripts in benchmarks/ (onnxruntime-node, bundled CPU library)" >&2
  (cd "$ROOT/benchmarks" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi

MODEL=$OUT/resnet18.pt
ONNX=$OUT/resnet18.onnx
if [[ ! -f $MODEL || ! -f $ONNX.json || $ROOT/scripts/export_torchvision.py -nt $MODEL ]]; then
  echo "== exporting resnet18 (random weights, frozen) to $MODEL and $ONNX" >&2
  "$PY" "$ROOT/scripts/export_torchvision.py" --model resnet18 --weights none --optimize \
      --out "$MODEL" --onnx "$ONNX" 2>&1 | grep -v -e UserWarning -e forward_call >&2
fi

RESULTS=$OUT/results.jsonl
: > "$RESULTS"
run() {  # impl threads batch
  local impl=$1 t=$2 b=$3 line
  case $impl in
    sense) line=$("$BENCH" --model "$MODEL" --threads "$t" --batch "$b" --seconds "$SECONDS_PER" --json "$IMAGES") ;;
    sense/*)
      local v label=${impl#sense/} assign
      for v in "${VARIANTS[@]}"; do [[ ${v%%:*} == "$label" ]] && assign=${v#*:}; done
      line=$(env "$assign" "$BENCH" --model "$MODEL" --threads "$t" --batch "$b" --seconds "$SECONDS_PER" --json "$IMAGES")
      line=${line/\"impl\":\"sense\"/\"impl\":\"$impl\"} ;;
    python) line=$("$PY" "$ROOT/benchmarks/bench_classify_python.py" --model "$MODEL" --threads "$t" --batch "$b" \
                       --seconds "$SECONDS_PER" --json "$IMAGES" 2>/dev/null) ;;
    python-opt) line=$("$PY" "$ROOT/benchmarks/bench_classify_python.py" --model "$MODEL" --threads "$t" --batch "$b" \
                       --seconds "$SECONDS_PER" --optimize --json "$IMAGES" 2>/dev/null) ;;
    ort) line=$(node "$ROOT/benchmarks/bench_onnxruntime.js" --model "$ONNX" --threads "$t" --batch "$b" \
                    --seconds "$SECONDS_PER" --json) ;;
  esac
  echo "$line" >> "$RESULTS"
  echo "   $impl t$t b$b: $(echo "$line" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("%.2f images/s%s" % (r.get("e2e_ips", r["model_ips"]), "" if "e2e_ips" in r else " (model only)"))')" >&2
}

IMPLS=(sense python python-opt ort)
for v in "${VARIANTS[@]}"; do IMPLS+=("sense/${v%%:*}"); done
for ((r = 0; r < ROUNDS; r++)); do
  echo "== round $((r + 1))/$ROUNDS" >&2
  for t in $THREADS; do
    for b in $BATCHES; do
      # rotate the order so that no implementation always runs first (or after the same one)
      k=$(( (r + t + b) % ${#IMPLS[@]} ))
      for impl in "${IMPLS[@]:k}" "${IMPLS[@]:0:k}"; do run "$impl" "$t" "$b"; done
    done
  done
done

"$PY" - "$RESULTS" <<'EOF'
import collections, json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(list)
for r in rows:
    by[(r["impl"], r["threads"], r["batch"])].append(r)

def med(impl, t, b, key):
    v = [r[key] for r in by.get((impl, t, b), []) if key in r]
    return statistics.median(v) if v else float("nan")

configs = sorted({(r["threads"], r["batch"]) for r in rows})
senses = sorted({r["impl"] for r in rows if r["impl"].startswith("sense")})
rounds = max(len(v) for v in by.values())
files = next((r["files"] for r in rows if "files" in r), "?")
print(f"\nsense vision benchmark: resnet18-shaped bundle (random weights, frozen), {files} real photos, "
      f"medians of {rounds} round(s)")
print("e2e = decode + preprocess + model + top-5; wall-clock images/s, and CPU ms per image (all threads; steadier on a busy machine)\n")
hdr = ("threads", "batch", "impl", "img/s", "python img/s", "ratio", "python-opt img/s", "ratio opt", "CPU ms/img",
       "CPU ms/img python", "CPU ratio", "CPU ms/img python-opt", "CPU ratio opt", "preprocess share (decode)",
       "latency ms", "latency ms python", "latency ms python-opt", "peak RSS MiB", "peak RSS MiB python")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for t, b in configs:
    p, pc = med("python", t, b, "e2e_ips"), med("python", t, b, "e2e_cpu_ms_per_image")
    q, qc = med("python-opt", t, b, "e2e_ips"), med("python-opt", t, b, "e2e_cpu_ms_per_image")
    for impl in senses:
        s, sc = med(impl, t, b, "e2e_ips"), med(impl, t, b, "e2e_cpu_ms_per_image")
        print(f"| {t} | {b} | {impl} | {s:.2f} | {p:.2f} | {s / p:.2f}x | {q:.2f} | {s / q:.2f}x | {sc:.1f} | {pc:.1f} | "
              f"{pc / sc:.2f}x | {qc:.1f} | {qc / sc:.2f}x | "
              f"{100 * med(impl, t, b, 'preprocess_share'):.1f}% ({100 * med(impl, t, b, 'decode_share'):.1f}%) | "
              f"{med(impl, t, b, 'latency_ms_median'):.0f} | {med('python', t, b, 'latency_ms_median'):.0f} | "
              f"{med('python-opt', t, b, 'latency_ms_median'):.0f} | "
              f"{med(impl, t, b, 'peak_rss_mib'):.0f} | {med('python', t, b, 'peak_rss_mib'):.0f} |")
print("\nmodel only (the network on a ready [batch, 3, 224, 224] tensor)\n")
hdr = ("threads", "batch", "impl", "img/s", "python img/s", "python-opt img/s", "ONNX Runtime img/s", "vs ORT",
       "CPU ms/img", "CPU ms/img python", "CPU ms/img python-opt", "CPU ms/img ORT", "CPU vs ORT", "peak RSS MiB ORT")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for t, b in configs:
    p, q, o = med("python", t, b, "model_ips"), med("python-opt", t, b, "model_ips"), med("onnxruntime", t, b, "model_ips")
    oc = med("onnxruntime", t, b, "model_cpu_ms_per_image")
    for impl in senses:
        s, sc = med(impl, t, b, "model_ips"), med(impl, t, b, "model_cpu_ms_per_image")
        print(f"| {t} | {b} | {impl} | {s:.2f} | {p:.2f} | {q:.2f} | {o:.2f} | {s / o:.2f}x | {sc:.1f} | "
              f"{med('python', t, b, 'model_cpu_ms_per_image'):.1f} | {med('python-opt', t, b, 'model_cpu_ms_per_image'):.1f} | "
              f"{oc:.1f} | {oc / sc:.2f}x | {med('onnxruntime', t, b, 'peak_rss_mib'):.0f} |")
print("\ntargets: sense >= 1.3x python-opt (the same graph optimisation as sense) at equal threads; sense preprocessing < 15% of its end-to-end time; "
      "sense model-only >= ONNX Runtime.")
print("latency: per image at batch 1, per batch of 16 at batch 16 (median).")
EOF
