#!/usr/bin/env bash
# Entities benchmark, one run: sense's end-to-end path (raw text in, entities
# out) vs the same TorchScript bundle driven from Python with the same
# pre-processing (basic split, character ids, Viterbi), same threads, batch 1
# and 32 (both sides sort by length for batch 32), on the first 1000 CoNLL-2003
# dev sentences as plain text. sense runs the bundle on its native backend
# (no LibTorch; the default for this architecture) and, as "sense_libtorch",
# on LibTorch (SENSE_NATIVE=0). Then start-up to the first result of
# `sense-entities "text"` on both, next to that of a program that only links
# LibTorch (bench_torch_floor).
#   benchmarks/run_entities_bench.sh [build-dir] [shared-data-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SHARED=${2:-../shared/data}
MODEL=${SENSE_BENCH_MODEL:-models/ner-conll2003.pt}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
/usr/bin/python3 - "$SHARED/conll2003/dev.txt" > "$OUT/sentences.txt" <<'PY'
import sys
sents, cur = [], []
for line in open(sys.argv[1]):
    p = line.split()
    if not p or p[0] == "-DOCSTART-":
        if cur: sents.append(" ".join(cur)); cur = []
        continue
    cur.append(p[0])
print("\n".join(sents[:1000]))
PY
for threads in ${SENSE_BENCH_THREADS:-1 2}; do
  for round in 1 2; do  # alternate the two sides so both see the same machine load
    "$BUILD/benchmarks/bench_entities" "$MODEL" "$OUT/sentences.txt" "$threads" 1 32 >> "$OUT/rows.jsonl"
    SENSE_NATIVE=0 "$BUILD/benchmarks/bench_entities" "$MODEL" "$OUT/sentences.txt" "$threads" 1 32 |
      sed 's/"impl":"sense"/"impl":"sense_libtorch"/' >> "$OUT/rows.jsonl"
    /usr/bin/python3 benchmarks/bench_entities_python.py "$MODEL" "$OUT/sentences.txt" "$threads" 1 32 >> "$OUT/rows.jsonl"
  done
done
/usr/bin/python3 - "$OUT/rows.jsonl" "$BUILD/apps/sense-entities" "$MODEL" "$BUILD/benchmarks/bench_torch_floor" <<'PY'
import collections, json, subprocess, sys, time
rows = [json.loads(l) for l in open(sys.argv[1])]
best = collections.defaultdict(dict)
for r in rows:
    k = (r["threads"], r["batch"])
    if r["words_per_s"] > best[k].get(r["impl"], {}).get("words_per_s", 0):
        best[k][r["impl"]] = r
print(f"{'threads':>7} {'batch':>5} {'sense words/s':>13} {'python words/s':>14} {'ratio':>6} {'sense peak MB':>13} "
      f"{'python peak MB':>14} {'entities s/p':>12} {'sense on LibTorch words/s':>25} {'ratio':>6}")
for (t, b), v in sorted(best.items()):
    s, p, l = v["sense"], v["python"], v.get("sense_libtorch")
    print(f"{t:>7} {b:>5} {s['words_per_s']:>13.0f} {p['words_per_s']:>14.0f} {s['words_per_s']/p['words_per_s']:>6.2f} "
          f"{s['peak_rss_mb']:>13.0f} {p['peak_rss_mb']:>14.0f} {s['entities']:>6}/{p['entities']}"
          + (f" {l['words_per_s']:>25.0f} {l['words_per_s']/p['words_per_s']:>6.2f}" if l else ""))
def first_line(cmd, env=None):
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    p.stdout.readline()
    dt = time.perf_counter() - t
    assert p.wait() == 0
    return dt
# interleaved, so that all see the same machine load: sense-entities on its
# native backend (the default), on LibTorch (SENSE_NATIVE=0), and a program
# that only links LibTorch (bench_torch_floor: the loader's and LibTorch's
# static initialisers' share, which the native backend skips)
import os
cmd = [sys.argv[2], "--model", sys.argv[3], "--threads", "1", "Angela Merkel met Emmanuel Macron in Paris on Tuesday."]
libtorch_env = dict(os.environ, SENSE_NATIVE="0")
st, lt, fl = [], [], []
for _ in range(10):
    st.append(first_line(cmd))
    lt.append(first_line(cmd, libtorch_env))
    fl.append(first_line([sys.argv[4]]))
for x in (st, lt, fl): x.sort()
med = lambda x: x[len(x) // 2]
print(f"start-up to first result of sense-entities (1 thread), native backend: best {st[0]:.3f} s, median {med(st):.3f} s")
print(f"  the same on LibTorch (SENSE_NATIVE=0): best {lt[0]:.3f} s, median {med(lt):.3f} s")
print(f"  a program that only links LibTorch (bench_torch_floor): best {fl[0]:.3f} s, median {med(fl):.3f} s")
PY
