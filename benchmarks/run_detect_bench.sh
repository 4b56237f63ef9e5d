#!/usr/bin/env bash
# The sense detection benchmark (issue 13): sense vs the same TorchScript
# detector driven from Python vs ONNX Runtime on the same network.
#
#   benchmarks/run_detect_bench.sh [--build DIR] [--model BUNDLE] [--rounds N] [--seconds S]
#                                  [--threads "1 2"] [--batch N] [--images DIR] [--out DIR]
#   benchmarks/run_detect_bench.sh --report OUT/results.jsonl   (the tables again, from a finished run)
#
# 1. Exports the bundle's network to ONNX (bench_detect_python.py
#    --export-onnx: torch.onnx.export of the loaded module) and writes a test
#    video from the photos (bench_detect --make-video: 640 x 480 MJPG, 150
#    frames at 25 fps, each photo held for 5 frames).
# 2. For every round and thread count runs, one after the other and in a
#    rotating order so that a busy machine penalises none of them
#    systematically, each in its own process (so each peak RSS belongs to
#    one configuration):
#      sense       build/benchmarks/bench_detect           decode + preprocess + model + boxes + NMS, C++
#      python      benchmarks/bench_detect_python.py       cv2 + torch + torchvision batched_nms, same bundle
#      python-opt  the same with --optimize (freeze + optimize_for_inference, the graph optimisation sense applies)
#      ort         benchmarks/bench_onnxruntime.js         the ONNX export under onnxruntime-node, model only
#    on the photos (default: ../shared/data/coco-val-mini/images), then the
#    video through sense and python-opt (frames/s, video decode included).
# 3. Prints medians over rounds: end-to-end images/s and CPU ms per image,
#    the ratios sense/python and sense/python-opt, model-only images/s for
#    the three, peak RSS, video frames/s.
# Raw results: OUT/results.jsonl.
#
# On a machine whose cores other work is using, wall-clock figures swing;
# read the CPU ms per image columns there (see run_vision_bench.sh), and run
# with OMP_WAIT_POLICY=PASSIVE in the environment (applies to sense and Python).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
MODEL=$ROOT/models/coco-detector.pt
ROUNDS=3
SECONDS_PER=6
THREADS="1 2"
BATCH=1
IMAGES=$ROOT/../shared/data/coco-val-mini/images
OUT=
PY=/usr/bin/python3
REPORT=

while [[ $# -gt 0 ]]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_PER=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --images) IMAGES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --report) REPORT=$2; shift 2 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "run_detect_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$BUILD/bench-detect}
RESULTS=$OUT/results.jsonl
if [[ -z $REPORT ]]; then
mkdir -p "$OUT"
[[ -d $IMAGES ]] || { echo "run_detect_bench.sh: no images folder $IMAGES (use --images)" >&2; exit 1; }
[[ -f $MODEL ]] || { echo "run_detect_bench.sh: no model $MODEL (scripts/setup.sh makes models/coco-detector.pt)" >&2; exit 1; }

BENCH=$BUILD/benchmarks/bench_detect
if [[ ! -x $BENCH ]]; then
  echo "== building bench_detect in $BUILD" >&2
  cmake -S "$ROOT" -B "$BUILD" -DSENSE_BUILD_BENCHMARKS=ON >/dev/null
  cmake --build "$BUILD" --target bench_detect -j "$(nproc)" >&2
fi
if [[ ! -d $ROOT/benchmarks/node_modules/onnxruntime-node ]]; then
  echo "== npm ci --ignore-scripts in benchmarks/ (onnxruntime-node, bundled CPU library)" >&2
  (cd "$ROOT/benchmarks" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi

ONNX=$OUT/$(basename "${MODEL%.pt}").onnx
if [[ ! -f $ONNX.json || $MODEL -nt $ONNX ]]; then
  echo "== exporting $MODEL to $ONNX" >&2
  "$PY" "$ROOT/benchmarks/bench_detect_python.py" --model "$MODEL" --export-onnx "$ONNX" 2>&1 | grep -v -e Warning -e _C._jit >&2
fi
VIDEO=$OUT/clip.avi
[[ -f $VIDEO ]] || "$BENCH" --make-video "$VIDEO" --frames 150 --fps 25 --hold 5 "$IMAGES" >&2

: > "$RESULTS"
run() {  # impl threads
  local impl=$1 t=$2 line
  case $impl in
    sense) line=$("$BENCH" --model "$MODEL" --threads "$t" --batch "$BATCH" --seconds "$SECONDS_PER" --json "$IMAGES") ;;
    python) line=$("$PY" "$ROOT/benchmarks/bench_detect_python.py" --model "$MODEL" --threads "$t" --batch "$BATCH" \
                     --seconds "$SECONDS_PER" --json "$IMAGES" 2>/dev/null) ;;
    python-opt) line=$("$PY" "$ROOT/benchmarks/bench_detect_python.py" --model "$MODEL" --threads "$t" --batch "$BATCH" \
                         --seconds "$SECONDS_PER" --optimize --json "$IMAGES" 2>/dev/null) ;;
    ort) line=$(node "$ROOT/benchmarks/bench_onnxruntime.js" --model "$ONNX" --threads "$t" --batch "$BATCH" \
                  --seconds "$SECONDS_PER" --json) ;;
    video-sense) line=$("$BENCH" --model "$MODEL" --threads "$t" --batch "$BATCH" --video "$VIDEO" --json) ;;
    video-python-opt) line=$("$PY" "$ROOT/benchmarks/bench_detect_python.py" --model "$MODEL" --threads "$t" \
                               --batch "$BATCH" --optimize --video "$VIDEO" --json 2>/dev/null) ;;
  esac
  echo "$line" >> "$RESULTS"
  echo "   $impl t$t: $(echo "$line" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("%.2f %s" % (r.get("fps", r.get("e2e_ips", r.get("model_ips"))), "frames/s" if "fps" in r else ("images/s" if "e2e_ips" in r else "images/s (model only)")))')" >&2
}

IMPLS=(sense python python-opt ort video-sense video-python-opt)
for ((r = 0; r < ROUNDS; r++)); do
  echo "== round $((r + 1))/$ROUNDS" >&2
  for t in $THREADS; do
    k=$(( (r + t) % ${#IMPLS[@]} ))
    for impl in "${IMPLS[@]:k}" "${IMPLS[@]:0:k}"; do run "$impl" "$t"; done
  done
done
else
  RESULTS=$REPORT
fi

"$PY" - "$RESULTS" "$MODEL" "$BATCH" <<'PYEOF'
import collections, json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(list)
for r in rows:
    by[(r["impl"], r.get("mode", "images"), r["threads"])].append(r)

def med(impl, t, key, mode="images"):
    v = [r[key] for r in by.get((impl, mode, t), []) if key in r]
    return statistics.median(v) if v else float("nan")

threads = sorted({r["threads"] for r in rows})
rounds = max(len(v) for v in by.values())
files = next((r["files"] for r in rows if "files" in r), "?")
print(f"\nsense detection benchmark: {sys.argv[2]}, batch {sys.argv[3]}, {files} photos, medians of {rounds} round(s)")
print("e2e = decode + preprocess + model + box decoding + NMS; wall-clock images/s, and CPU ms per image (all threads)\n")
hdr = ("threads", "sense img/s", "python img/s", "python-opt img/s", "sense/python", "sense/python-opt",
       "CPU ms/img sense", "CPU ms/img python", "CPU ms/img python-opt", "CPU ratio", "CPU ratio opt",
       "latency ms sense", "latency ms python-opt", "peak RSS MiB sense", "peak RSS MiB python", "peak RSS MiB python-opt")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for t in threads:
    s, p, q = med("sense", t, "e2e_ips"), med("python", t, "e2e_ips"), med("python-opt", t, "e2e_ips")
    sc, pc, qc = (med(i, t, "e2e_cpu_ms_per_image") for i in ("sense", "python", "python-opt"))
    print(f"| {t} | {s:.2f} | {p:.2f} | {q:.2f} | {s / p:.2f}x | {s / q:.2f}x | {sc:.1f} | {pc:.1f} | {qc:.1f} | "
          f"{pc / sc:.2f}x | {qc / sc:.2f}x | "
          f"{med('sense', t, 'latency_ms_median'):.1f} | {med('python-opt', t, 'latency_ms_median'):.1f} | "
          f"{med('sense', t, 'peak_rss_mib'):.0f} | {med('python', t, 'peak_rss_mib'):.0f} | {med('python-opt', t, 'peak_rss_mib'):.0f} |")
print("\nmodel only (the network on a ready batch of preprocessed photos; ONNX Runtime on the ONNX export)\n")
hdr = ("threads", "sense img/s", "python img/s", "python-opt img/s", "ONNX Runtime img/s", "sense/ORT", "peak RSS MiB ORT")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for t in threads:
    s, o = med("sense", t, "model_ips"), med("onnxruntime", t, "model_ips")
    print(f"| {t} | {s:.2f} | {med('python', t, 'model_ips'):.2f} | {med('python-opt', t, 'model_ips'):.2f} | {o:.2f} | "
          f"{s / o:.2f}x | {med('onnxruntime', t, 'peak_rss_mib'):.0f} |")
print("\nvideo (640 x 480 MJPG, every frame: video decode + detection)\n")
print("| threads | sense frames/s | python-opt frames/s | ratio | CPU ms/frame sense | CPU ms/frame python-opt | CPU ratio | peak RSS MiB sense |")
print("|---|---|---|---|---|---|---|---|")
for t in threads:
    s, q = med("sense", t, "fps", "video"), med("python-opt", t, "fps", "video")
    sc, qc = med("sense", t, "cpu_ms_per_frame", "video"), med("python-opt", t, "cpu_ms_per_frame", "video")
    print(f"| {t} | {s:.2f} | {q:.2f} | {s / q:.2f}x | {sc:.1f} | {qc:.1f} | {qc / sc:.2f}x | "
          f"{med('sense', t, 'peak_rss_mib', 'video'):.0f} |")
print("\ntarget: sense >= 1.3x python at 1 and 2 threads (end to end).")
PYEOF
