#!/usr/bin/env bash
# Tokenizer benchmark, one run on the same corpora (SST-2 train sentences and
# botchan.txt lines): sense WordPiece vs Hugging Face tokenizers (npm, native)
# at 1 thread and all cores; sense SentencePiece vs the SentencePiece library
# alone and Debian's spm_encode.
#   benchmarks/run_text_bench.sh [build-dir] [shared-data-dir]
# Needs: the build (bench_tokenize, bench_spm_raw), node + npm for the HF side
# (installs scripts/wordpiece-reference/node_modules with `npm ci` if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SHARED=${2:-../shared/data}
THREADS=$(nproc)
VOCAB=$SHARED/tokenizers/bert-base-uncased/vocab.txt
SST2=$SHARED/sst2/train.tsv
BOTCHAN=$SHARED/tokenizers/sentencepiece-test/botchan.txt
SPM=$SHARED/tokenizers/sentencepiece-test/test_model.model
# Columns: wall_s / texts/s / MB/s by wall clock (best of 3), cpu_s / texts/cpu /
# MB/cpu by process CPU time (fair on a shared machine; all threads summed).
# Like for like: compare rows with the same tag. [ids]: ids only (sense Encode,
# the SentencePiece library's Encode, spm_encode). [full]: ids with offsets
# and, for sense, mask and type ids (sense EncodeBatch, the SentencePiece
# library's EncodeAsImmutableProto: pieces, ids, offsets; Hugging Face
# encodeBatch: ids, offsets, mask, type ids and token strings).
# spm_encode is a whole process (file I/O, printing), so it is an upper bound.
"$BUILD/benchmarks/bench_tokenize" --vocab "$VOCAB" --sst2 "$SST2" --botchan "$BOTCHAN" --spm-model "$SPM" \
    --threads "$THREADS"
"$BUILD/benchmarks/bench_spm_raw" --sst2 "$SST2" --botchan "$BOTCHAN" --spm-model "$SPM" --threads "$THREADS"
if command -v node > /dev/null; then
  ref=scripts/wordpiece-reference
  [ -d $ref/node_modules/tokenizers ] || (cd $ref && npm ci --no-audit --no-fund > /dev/null)
  for t in 1 "$THREADS"; do
    RAYON_NUM_THREADS=$t node $ref/bench_hf_tokenizers.js --vocab "$VOCAB" --sst2 "$SST2" --botchan "$BOTCHAN"
  done
fi
# spm_encode: whole process, reading the file and writing ids (1 thread).
if command -v spm_encode > /dev/null; then
  for name in sst2_train botchan; do
    if [ $name = sst2_train ]; then tail -n +2 "$SST2" | sed 's/ *\t.*$//' > /tmp/bench_text.$$; else tr -d '\r' < "$BOTCHAN" | grep -v '^$' > /tmp/bench_text.$$; fi
    n=$(wc -l < /tmp/bench_text.$$); mb=$(stat -c %s /tmp/bench_text.$$)
    TIMEFORMAT='%R %U %S'
    best_wall=999; best_cpu=999
    for r in 1 2 3; do
      read -r wall user sys < <({ time spm_encode --model "$SPM" --output_format=id < /tmp/bench_text.$$ > /dev/null; } 2>&1)
      best_wall=$(awk -v a=$wall -v b=$best_wall 'BEGIN{print (a < b) ? a : b}')
      best_cpu=$(awk -v a=$user -v s=$sys -v b=$best_cpu 'BEGIN{c = a + s; print (c < b) ? c : b}')
    done
    awk -v n=$n -v mb=$mb -v w=$best_wall -v c=$best_cpu -v name=$name 'BEGIN{printf "%-11s %-40s %3d %7d %6.2f %8.4f %10.0f %7.2f %8.4f %10.0f %7.2f %8s\n", name, "[ids]  spm_encode (process, file I/O)", 1, n, mb/1e6, w, n/w, mb/1e6/w, c, n/c, mb/1e6/c, "-"}'
  done
  rm -f /tmp/bench_text.$$
fi
