#!/usr/bin/env bash
# Sentiment benchmark, one run: sense's text classification path (tokenize +
# pad + inference) vs the same TorchScript bundle driven from Python
# (SentencePiece's Python binding + torch.jit.load), same threads, batch 1
# and 32, on SST-2 dev sentences; then single-sentence latency on one core
# and start-up to first result of `sense-sentiment "text"`.
#   benchmarks/run_sentiment_bench.sh [build-dir] [shared-data-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SHARED=${2:-../shared/data}
MODEL=${SENSE_BENCH_MODEL:-models/sentiment-sst2.pt}
DATA=${SENSE_BENCH_DATA:-$SHARED/sst2/dev.tsv}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for threads in 1 2; do
  for round in 1 2; do  # alternate the two sides so both see the same machine load
    "$BUILD/benchmarks/bench_sentiment" "$MODEL" "$DATA" "$threads" 1 32 >> "$OUT/rows.jsonl"
    /usr/bin/python3 benchmarks/bench_sentiment_python.py "$MODEL" "$DATA" "$threads" 1 32 >> "$OUT/rows.jsonl"
    /usr/bin/python3 benchmarks/bench_sentiment_python.py "$MODEL" "$DATA" "$threads" --sort 32 >> "$OUT/rows.jsonl"
  done
done
/usr/bin/python3 - "$OUT/rows.jsonl" "$BUILD/apps/sense-sentiment" "$MODEL" <<'PY'
import collections, json, subprocess, sys, time
rows = [json.loads(l) for l in open(sys.argv[1])]
best = collections.defaultdict(dict)
for r in rows:
    k = (r["threads"], r["batch"])
    if r["sentences_per_s"] > best[k].get(r["impl"], {}).get("sentences_per_s", 0):
        best[k][r["impl"]] = r
print(f"{'threads':>7} {'batch':>5} {'sense sent/s':>12} {'python sent/s':>13} {'ratio':>6} {'py sorted':>9} {'ratio':>6} "
      f"{'sense ms/sent':>13} {'python ms/sent':>14} {'sense peak MB':>13} {'python peak MB':>14}")
for (t, b), v in sorted(best.items()):
    s, p = v["sense"], v["python"]
    ps = v.get("python-sorted")
    sorted_cols = f"{ps['sentences_per_s']:>9.0f} {s['sentences_per_s']/ps['sentences_per_s']:>6.2f}" if ps else f"{'-':>9} {'-':>6}"
    print(f"{t:>7} {b:>5} {s['sentences_per_s']:>12.0f} {p['sentences_per_s']:>13.0f} {s['sentences_per_s']/p['sentences_per_s']:>6.2f} "
          f"{sorted_cols} {1000/s['sentences_per_s']:>13.2f} {1000/p['sentences_per_s']:>14.2f} {s['peak_rss_mb']:>13.0f} {p['peak_rss_mb']:>14.0f}")
print("batch 1: one call per sentence; batch 32: sense gets the whole set in one ClassifyBatch call and sorts it by")
print("length into batches of 32; 'python' pads batches of 32 in file order, 'py sorted' sorts by length first.")
st, whole = [], []  # start-up: to the first result line, and the whole process; 10 runs
for _ in range(10):
    t = time.perf_counter()
    p = subprocess.Popen([sys.argv[2], "--model", sys.argv[3], "--threads", "1", "A gorgeous, witty, seductive movie."],
                         stdout=subprocess.PIPE)
    p.stdout.readline()
    st.append(time.perf_counter() - t)
    assert p.wait() == 0
    whole.append(time.perf_counter() - t)
st.sort()
whole.sort()
print(f"start-up to first result of sense-sentiment (1 thread): best {st[0]:.3f} s, median {st[len(st)//2]:.3f} s; "
      f"whole process: best {whole[0]:.3f} s, median {whole[len(whole)//2]:.3f} s")
PY
