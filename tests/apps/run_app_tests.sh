#!/usr/bin/env bash
# End-to-end app scenarios; one per ctest test. Exit 0 pass, 1 fail, 77 skip.
# Environment: APPS (built apps), MODELS (test bundles), DATA (tests/data), SRC, PY,
# SHARED (../shared/data; may be absent).
set -uo pipefail
scenario=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL [$scenario]: $*"; exit 1; }
skip() { echo "SKIP [$scenario]: $*"; exit 77; }
# jsonl FILE EXPR: each line must parse; EXPR (Python, over list `rows`) must hold.
jsonl() { "$PY" -c "import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(0 if ($2) else 1)" "$1" \
  || fail "JSON check failed: $2 on $(cat "$1")"; }
I=$DATA/images

case $scenario in
info_human)
  "$APPS/sense-info" "$MODELS/colour3.pt" > "$T/out" || fail "exit $?"
  grep -q "task         image_classification" "$T/out" || fail "no task line: $(cat "$T/out")"
  grep -q "labels (3)   red, green, blue" "$T/out" || fail "no labels"
  grep -q "center crop (shorter side 36)" "$T/out" || fail "no preprocessing" ;;
info_json)
  "$APPS/sense-info" --json "$MODELS/colour3.pt" "$MODELS/tiny_text.pt" > "$T/out" || fail "exit $?"
  jsonl "$T/out" "len(rows)==2 and rows[0]['metadata']['labels']==['red','green','blue'] and rows[1]['assets']['vocab.txt']['bytes']>0 and rows[0]['backend']=='torchscript'" ;;
info_system)
  "$APPS/sense-info" --system > "$T/out" || fail "exit $?"
  grep -q "BLAS         OpenBLAS" "$T/out" || fail "OpenBLAS not in use: $(cat "$T/out")"
  "$APPS/sense-info" --system --json > "$T/j" || fail "exit $?"
  jsonl "$T/j" "rows[0]['blas_is_fast'] and rows[0]['available_cores']>=1" ;;
info_bad_models)
  printf 'garbage' > "$T/bad.pt"
  "$APPS/sense-info" --json "$MODELS/colour3.pt" "$T/bad.pt" "$MODELS/no_metadata.pt" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1"
  jsonl "$T/out" "len(rows)==3 and 'metadata' in rows[0] and rows[1]['error']['code']=='model_format' and rows[2]['error']['code']=='metadata'"
  grep -q "no sense.json metadata" "$T/err" || fail "stderr: $(cat "$T/err")" ;;
info_help_version)
  "$APPS/sense-info" --help | grep -q "Usage: sense-info" || fail "help"
  "$APPS/sense-info" --version | grep -q "^sense-info [0-9]" || fail "version"
  "$APPS/sense-info" --bogus 2> "$T/err"; [ $? -eq 2 ] || fail "bad option should exit 2"
  for a in sense-classify sense-eval; do "$APPS/$a" --help | grep -q "Usage: $a" || fail "$a help"; done ;;
classify_files)
  "$APPS/sense-classify" -m "$MODELS/colour3.pt" -k 1 "$I/red.png" "$I/green.png" "$I/blue.png" > "$T/out" || fail "exit $?"
  diff <(cut -d: -f2 "$T/out" | awk '{print $1}') <(printf 'red\ngreen\nblue\n') || fail "labels/order: $(cat "$T/out")" ;;
classify_json_keeps_order_and_reports_errors)
  "$APPS/sense-classify" -m "$MODELS/colour3.pt" --json -b 2 "$I/blue.png" "$I/truncated.jpg" "$I/red.png" "$I/bomb.png" \
     "$I/missing.png" "$I/not_an_image.jpg" "$I/empty.png" "$I/green.png" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 when inputs fail"
  jsonl "$T/out" "len(rows)==8 and rows[0]['categories'][0]['label']=='blue' and 'truncated' in rows[1]['error']['message'] and rows[2]['categories'][0]['label']=='red' and 'megapixels' in rows[3]['error']['message'] and rows[4]['error']['code']=='file' and rows[5]['error']['code']=='input' and rows[6]['error']['code']=='input' and rows[7]['categories'][0]['label']=='green'" ;;
classify_stdin_and_globs)
  printf '%s\n' "$I/green.png" "$I/red.png" | "$APPS/sense-classify" -m "$MODELS/colour3.pt" --json > "$T/out" || fail "stdin exit $?"
  jsonl "$T/out" "[r['categories'][0]['label'] for r in rows]==['green','red']"
  mkdir -p "$T/dir/sub" && cp "$I/red.png" "$T/dir/" && cp "$I/blue.png" "$T/dir/sub/" && echo x > "$T/dir/notes.txt"
  "$APPS/sense-classify" -m "$MODELS/colour3.pt" --json "$T/dir" "$I/gre*.png" > "$T/out" || fail "folder exit $?"
  jsonl "$T/out" "[r['categories'][0]['label'] for r in rows]==['red','blue','green']" ;;
classify_explain)
  "$APPS/sense-classify" -m "$MODELS/colour3.pt" --explain "$T/x" "$I/red.png" "$I/butterfly.jpg" > "$T/out" || fail "exit $?"
  [ "$(ls "$T/x" | wc -l)" -eq 2 ] || fail "expected 2 overlays: $(ls "$T/x")"
  "$PY" -c "from PIL import Image; import sys; im=Image.open(sys.argv[1]); assert im.size==(493,356), im.size" "$T/x/butterfly."*.png || fail "overlay size" ;;
classify_bad_model)
  head -c 3000 "$MODELS/colour3.pt" > "$T/cut.pt"
  "$APPS/sense-classify" -m "$T/cut.pt" "$I/red.png" 2> "$T/err"; [ $? -eq 1 ] || fail "expected exit 1"
  grep -q "corrupt or truncated TorchScript archive" "$T/err" || fail "stderr: $(cat "$T/err")" ;;
eval_folder)
  mkdir -p "$T/set/red" "$T/set/green" "$T/set/blue"
  cp "$I/red.png" "$T/set/red/"; cp "$I/green.png" "$T/set/green/"; cp "$I/blue.png" "$T/set/blue/"
  "$APPS/sense-eval" -m "$MODELS/colour3.pt" --json --confusion-png "$T/cm.png" "$T/set" > "$T/out" || fail "exit $?"
  jsonl "$T/out" "rows[0]['accuracy']==1.0 and rows[0]['examples']==3 and rows[0]['confusion']==[[1,0,0],[0,1,0],[0,0,1]]"
  [ -s "$T/cm.png" ] || fail "no confusion PNG" ;;
eval_fashion_mnist_subset)
  # The committed default model, re-checked through the C++ path on a fixed
  # subset (the first 2,000 test images; the full figure is in models/README.md).
  idx=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  [ -f "$idx" ] || skip "needs Debian package dataset-fashion-mnist ($idx)"
  [ -f "$SRC/models/fashion-mnist.pt" ] || fail "models/fashion-mnist.pt is missing"
  "$APPS/sense-eval" -m "$SRC/models/fashion-mnist.pt" --limit 2000 --json "$idx" > "$T/out" || fail "exit $?"
  jsonl "$T/out" "rows[0]['examples']==2000 and rows[0]['accuracy']>=0.925" ;;
pack_model_validates)
  # pack_model.py applies the loader's rules before writing anything.
  "$PY" "$SRC/scripts/pack_model.py" "$MODELS/colour3.pt" --show > "$T/meta.json" || fail "--show"
  "$PY" -c "import json,sys; m=json.load(open(sys.argv[1])); m['labels']=['a','b']; json.dump(m,open(sys.argv[2],'w'))" "$T/meta.json" "$T/bad.json"
  "$PY" "$SRC/scripts/pack_model.py" "$MODELS/colour3.pt" --metadata "$T/bad.json" --out "$T/bad.pt" 2> "$T/err"
  [ $? -ne 0 ] || fail "label count mismatch was accepted"
  grep -q "'labels' has 2 entries but output 'logits' declares 3 classes" "$T/err" || fail "message: $(cat "$T/err")"
  [ ! -e "$T/bad.pt" ] || fail "wrote a bundle despite the error"
  "$PY" -c "import json,sys; m=json.load(open(sys.argv[1])); m['name']='repacked'; json.dump(m,open(sys.argv[2],'w'))" "$T/meta.json" "$T/ok.json"
  "$PY" "$SRC/scripts/pack_model.py" "$MODELS/no_metadata.pt" --metadata "$T/ok.json" --out "$T/ok.pt" > /dev/null || fail "repack"
  "$APPS/sense-info" --json "$T/ok.pt" > "$T/out" || fail "sense-info on the repacked bundle"
  jsonl "$T/out" "rows[0]['metadata']['name']=='repacked'" ;;
sentiment_lines)
  # Every line gets a result or its own error, in order; bad lines never shift the rest.
  printf 'good film\n\nbad \xff film\nbad film\n' | "$APPS/sense-sentiment" -m "$MODELS/tiny_text.pt" --json > "$T/out"
  [ $? -eq 1 ] || fail "expected exit 1 when a line fails"
  jsonl "$T/out" "len(rows)==4 and rows[0]['label']=='positive' and rows[1]['error']['message']=='empty text' and 'invalid UTF-8 at byte 4' in rows[2]['error']['message'] and rows[3]['label']=='negative'"
  "$APPS/sense-sentiment" -m "$MODELS/tiny_text.pt" --neutral 0.4:0.6 "film" "good" > "$T/h" || fail "exit $?"
  grep -q "^neutral" "$T/h" && grep -q "^positive" "$T/h" || fail "neutral band: $(cat "$T/h")"
  "$APPS/sense-sentiment" -m "$MODELS/tiny_text.pt" --explain --json "bad film" > "$T/x" || fail "explain exit"
  jsonl "$T/x" "rows[0]['explanation']['words'][0]['word']=='bad' and rows[0]['explanation']['words'][0]['weight']==1.0" ;;
sentiment_default_model)
  # The committed default model through the C++ path: the README example, its
  # explanation, and (with ../shared/data) the SST-2 dev accuracy target.
  M=$SRC/models/sentiment-sst2.pt
  [ -f "$M" ] || fail "models/sentiment-sst2.pt is missing"
  echo "A gorgeous, witty, seductive movie." | "$APPS/sense-sentiment" --json --explain > "$T/out" || fail "exit $?"
  jsonl "$T/out" "rows[0]['label']=='positive' and rows[0]['score']>=0.8 and max(rows[0]['explanation']['words'], key=lambda w: w['weight'])['word'].strip(',.').lower() in ('gorgeous','witty','seductive')"
  "$APPS/sense-sentiment" --json "The plot is a mess and the acting is even worse." "I loved every minute of it." > "$T/two" || fail "exit $?"
  jsonl "$T/two" "[r['label'] for r in rows]==['negative','positive']"
  dev=$SHARED/sst2/dev.tsv
  [ -f "$dev" ] || skip "SST-2 dev check needs ../shared/data/sst2 (not found at $SHARED)"
  "$APPS/sense-eval" -m "$M" --json "$dev" > "$T/eval" || fail "sense-eval exit $?"
  # The committed model measures 0.8589 here (models/README.md); the issue's 0.865 target is not met.
  jsonl "$T/eval" "rows[0]['examples']==872 and rows[0]['accuracy']>=0.855" ;;
eval_text_tsv)
  printf 'sentence\tlabel\ngood film\t1\nbad film\t0\nso bad\tnegative\nnot good\t0\n' > "$T/set.tsv"
  "$APPS/sense-eval" -m "$MODELS/tiny_text.pt" --json "$T/set.tsv" > "$T/out" || fail "exit $?"
  jsonl "$T/out" "rows[0]['examples']==4 and abs(rows[0]['accuracy']-0.75)<1e-9 and rows[0]['confusion']==[[2,1],[0,1]]" ;;
classify_raising_model_keeps_others)
  # raising_colour3's forward asserts on bright images: the white one alone fails.
  "$PY" -c "from PIL import Image; Image.new('RGB',(40,40),(255,255,255)).save('$T/white.png')"
  R=$MODELS/raising_colour3.pt
  "$APPS/sense-classify" -m "$R" -k 1 "$I/red.png" "$T/white.png" "$I/blue.png" > "$T/all" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1: $(cat "$T/all")"
  # stdout: one line per input, the error in its place; stderr: the message
  [ "$(wc -l < "$T/all")" -eq 3 ] || fail "expected 3 lines: $(cat "$T/all")"
  sed -n 1p "$T/all" | grep -q "red.png: red" || fail "line 1: $(cat "$T/all")"
  sed -n 2p "$T/all" | grep -q "^$T/white.png: error backend: .*raising_colour3.pt: running 'forward': .*image too bright" || fail "line 2: $(cat "$T/all")"
  sed -n 3p "$T/all" | grep -q "blue.png: blue" || fail "line 3: $(cat "$T/all")"
  grep -q "^sense-classify: $T/white.png: .*image too bright" "$T/err" || fail "stderr: $(cat "$T/err")"
  "$APPS/sense-classify" -m "$R" --json "$I/red.png" "$T/white.png" "$I/blue.png" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 (json)"
  jsonl "$T/out" "len(rows)==3 and rows[0]['categories'][0]['label']=='red' and rows[1]['error']['code']=='backend' and 'image too bright' in rows[1]['error']['message'] and rows[1]['input'].endswith('white.png') and rows[2]['categories'][0]['label']=='blue'" ;;
classify_explanation_failure_keeps_result)
  # raising_colour3's Grad-CAM features method asserts on dark images.
  "$PY" -c "from PIL import Image; Image.new('RGB',(40,40),(0,0,0)).save('$T/black.png')"
  R=$MODELS/raising_colour3.pt
  "$APPS/sense-classify" -m "$R" --json --explain "$T/x" "$T/black.png" "$I/red.png" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1"
  jsonl "$T/out" "len(rows)==2 and len(rows[0]['categories'])==3 and rows[0]['explanation_error']['code']=='backend' and 'image too dark' in rows[0]['explanation_error']['message'] and 'explanation' not in rows[0] and rows[1]['categories'][0]['label']=='red' and 'explanation' in rows[1] and 'explanation_error' not in rows[1]"
  "$APPS/sense-classify" -m "$R" --explain "$T/x" "$T/black.png" > "$T/h" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 (text)"
  grep -q "black.png: red (0.333)" "$T/h" || fail "result line: $(cat "$T/h")"
  grep -q "black.png: explanation failed: .*image too dark" "$T/err" || fail "stderr: $(cat "$T/err")" ;;
classify_bad_flags_are_usage_errors)
  # One usage error naming the flag, exit 2, before any image is read.
  while IFS='|' read -r flag value expect; do
    "$APPS/sense-classify" -m "$MODELS/colour3.pt" "$flag" "$value" "$I/red.png" "$I/blue.png" "$I/green.png" > "$T/out" 2> "$T/err"
    rc=$?
    [ $rc -eq 2 ] || fail "$flag $value: exit $rc, expected 2: $(cat "$T/err")"
    [ ! -s "$T/out" ] || fail "$flag $value: printed results: $(cat "$T/out")"
    grep -qF -- "$expect" "$T/err" || fail "$flag $value: message: $(cat "$T/err")"
    [ "$(grep -c -- "$flag" "$T/err")" -eq 1 ] || fail "$flag $value: expected one message: $(cat "$T/err")"
  done <<'FLAGS'
--explain-method|foo|--explain-method: explanation method must be auto, gradcam or occlusion, found "foo"
--max-megapixels|0|--max-megapixels must be in (0, 1000000], found 0
--max-megapixels|-5|--max-megapixels must be in (0, 1000000], found -5
--max-megapixels|1e300|--max-megapixels must be in (0, 1000000], found 1e+300
--top-k|0|--top-k must be -1 (all) or >= 1, found 0
--batch-size|0|--batch-size must be >= 1, found 0
--threshold|1.5|--threshold must be in [0, 1], found 1.5
--threshold|-0.1|--threshold must be in [0, 1], found -0.1
--allow|red,purple|--allow: "purple" is not one of the model's labels (red, green, blue)
--deny|mauve|--deny: "mauve" is not one of the model's labels
FLAGS
  "$APPS/sense-eval" -m "$MODELS/colour3.pt" --batch-size 0 "$I" 2> "$T/err"; [ $? -eq 2 ] || fail "eval --batch-size 0"
  grep -qF -- "--batch-size must be >= 1, found 0" "$T/err" || fail "eval message: $(cat "$T/err")"
  "$APPS/sense-eval" -m "$MODELS/colour3.pt" --max-megapixels 1e300 "$I" 2> "$T/err"; [ $? -eq 2 ] || fail "eval --max-megapixels"
  "$APPS/sense-eval" -m "$MODELS/colour3.pt" --limit -1 "$I" 2> "$T/err"; [ $? -eq 2 ] || fail "eval --limit -1" ;;
eval_counts_bad_examples)
  # A bad example (the model raises on it, an unreadable file, a label the
  # model does not have) is counted as failed; the evaluation goes on.
  R=$MODELS/raising_colour3.pt
  mkdir -p "$T/set/red" "$T/set/green" "$T/set/blue"
  cp "$I/red.png" "$T/set/red/"; cp "$I/green.png" "$T/set/green/"; cp "$I/blue.png" "$T/set/blue/"
  "$PY" -c "from PIL import Image; Image.new('RGB',(40,40),(255,255,255)).save('$T/set/red/white.png')"
  cp "$I/truncated.jpg" "$T/set/blue/"
  "$APPS/sense-eval" -m "$R" --json -b 2 "$T/set" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 when examples fail"
  jsonl "$T/out" "rows[0]['examples']==3 and rows[0]['failed']==2 and rows[0]['accuracy']==1.0"
  grep -q "image too bright" "$T/err" && grep -q "truncated JPEG" "$T/err" || fail "stderr: $(cat "$T/err")"
  "$APPS/sense-eval" -m "$R" -b 2 "$T/set" > "$T/h" 2> /dev/null
  grep -qF "(3 examples, 2 failed)" "$T/h" || fail "text report: $(cat "$T/h")"
  # IDX: 4 gray 28x28 images (dark, white, dark, dark), labels 0, 0, 7, 2:
  # the white one raises, label 7 is not one of the model's 3.
  "$PY" - "$T" <<'IDX' || fail "making IDX files"
import gzip, struct, sys
t = sys.argv[1]
px = [20, 255, 20, 20]
with gzip.open(t + "/x-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 4, 28, 28) + b"".join(bytes([v]) * 784 for v in px))
with gzip.open(t + "/x-labels-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, 4) + bytes([0, 0, 7, 2]))
IDX
  "$APPS/sense-eval" -m "$R" --json "$T/x-images-idx3-ubyte.gz" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 (IDX)"
  jsonl "$T/out" "rows[0]['examples']==2 and rows[0]['failed']==2"
  grep -q "label 7 at index 2 but the model has 3 labels" "$T/err" && grep -q "image too bright" "$T/err" || fail "IDX stderr: $(cat "$T/err")" ;;
sentiment_text_lines_in_order)
  # Plain text: one line per input, an error line in place of a failed one,
  # texts and -f files in command-line order, control characters escaped.
  printf 'good film\n\n\033[31mbad\a film\n' > "$T/f"
  "$APPS/sense-sentiment" -m "$MODELS/tiny_text.pt" "film good" -f "$T/f" "bad" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 when a line fails"
  [ "$(wc -l < "$T/out")" -eq 5 ] || fail "5 inputs, $(wc -l < "$T/out") lines: $(cat -A "$T/out")"
  sed -n 1p "$T/out" | grep -q "^positive .*film good$" || fail "line 1: $(sed -n 1p "$T/out")"
  sed -n 2p "$T/out" | grep -q "^positive .*good film$" || fail "line 2: $(sed -n 2p "$T/out")"
  sed -n 3p "$T/out" | grep -q "^error    input: empty text$" || fail "line 3: $(sed -n 3p "$T/out")"
  sed -n 4p "$T/out" | grep -qF '  \x1b[31mbad\x07 film' || fail "line 4: $(sed -n 4p "$T/out" | cat -A)"
  sed -n 5p "$T/out" | grep -q "^negative .*bad$" || fail "line 5: $(sed -n 5p "$T/out")"
  ! grep -q $'\033' "$T/out" || fail "raw ESC in the output"
  grep -q "f:2: empty text" "$T/err" || fail "stderr: $(cat "$T/err")"
  printf 'bad\n' | "$APPS/sense-sentiment" -m "$MODELS/tiny_text.pt" --json "good" - "film" > "$T/j" || fail "exit $?"
  jsonl "$T/j" "[r['source'] for r in rows]==['arg:1','stdin:1','arg:3']" ;;
sentiment_raising_model)
  # The model raises on input 2 only: results for 1 and 3, an error for 2, in order, exit 1.
  long="good film film film film film film film film film film"
  "$APPS/sense-sentiment" -m "$MODELS/raising_text.pt" --json "good film" "$long" "bad" > "$T/out" 2> /dev/null
  [ $? -eq 1 ] || fail "expected exit 1"
  jsonl "$T/out" "len(rows)==3 and rows[0]['label']=='positive' and rows[1]['error']['code']=='backend' and 'more than 10 tokens' in rows[1]['error']['message'] and rows[1]['source']=='arg:2' and rows[2]['label']=='negative'"
  "$APPS/sense-sentiment" -m "$MODELS/raising_text.pt" -b 1 "good film" "$long" "bad" > "$T/h" 2> /dev/null
  [ $? -eq 1 ] || fail "expected exit 1"
  [ "$(wc -l < "$T/h")" -eq 3 ] && sed -n 2p "$T/h" | grep -q "^error    backend: " || fail "human: $(cat "$T/h")"
  # An explanation that fails keeps the classification.
  "$APPS/sense-sentiment" -m "$MODELS/raising_text.pt" --json --explain --explain-method integrated_gradients "bad" > "$T/x" 2> /dev/null
  [ $? -eq 1 ] || fail "explain failure: expected exit 1"
  jsonl "$T/x" "rows[0]['label']=='negative' and rows[0]['explanation_error']['code']=='unsupported'" ;;
sentiment_usage_errors)
  check() { want=$1; shift; "$APPS/sense-sentiment" -m "$MODELS/tiny_text.pt" "$@" < /dev/null > /dev/null 2> "$T/err"
            [ $? -eq 2 ] || fail "$* should exit 2"; [ "$(grep -c . "$T/err")" -eq 2 ] || fail "$*: one message and a hint: $(cat "$T/err")"
            grep -q -- "$want" "$T/err" || fail "$*: message lacks $want: $(cat "$T/err")"; }
  check "--batch-size" --batch-size 0 a b c
  check "--threads" --threads -2 a
  check "--explain-method" --explain --explain-method gradcam a b
  check "--neutral" --neutral 0.7:0.2 a
  check "--neutral" --neutral 0.4 a
  check "--device" --device tpu a ;;
write_error_every_app)
  # stdout on a full disk: exit 1 and one message, for every app.
  run() { name=$1; shift; "$@" > /dev/full 2> "$T/err"; rc=$?; [ $rc -eq 1 ] || fail "$name: exit $rc on /dev/full"
          grep -q "cannot write to standard output" "$T/err" || fail "$name: stderr: $(cat "$T/err")"; }
  run sentiment "$APPS/sense-sentiment" -m "$MODELS/tiny_text.pt" "good film"
  run sentiment-json "$APPS/sense-sentiment" -m "$MODELS/tiny_text.pt" --json "good film"
  run info "$APPS/sense-info" "$MODELS/tiny_text.pt"
  run classify "$APPS/sense-classify" -m "$MODELS/colour3.pt" "$I/red.png"
  printf 'sentence\tlabel\ngood film\t1\n' > "$T/set.tsv"
  run eval "$APPS/sense-eval" -m "$MODELS/tiny_text.pt" "$T/set.tsv"
  run tokenize "$APPS/sense-tokenize" --bundle "$MODELS/tiny_text.pt" "good" ;;
# ---- sense-detect and sense-eval's detection mode (issue 13) ----
detect_*|eval_detection_*)
  D=$SRC/models/coco-detector.pt
  [ -f "$D" ] || skip "needs models/coco-detector.pt (scripts/setup.sh makes it)"
  case $scenario in
  detect_usage_errors)
    check() { want=$1; shift; "$APPS/sense-detect" "$@" < /dev/null > /dev/null 2> "$T/err"; rc=$?
              [ $rc -eq 2 ] || fail "$* should exit 2, got $rc: $(cat "$T/err")"
              grep -qF -- "$want" "$T/err" || fail "$*: message lacks '$want': $(cat "$T/err")"; }
    check "--threshold must be in [0, 1], found 1.5" --threshold 1.5 "$I/home.jpg"
    check "--iou must be in [0, 1], found -1" --iou -1 "$I/home.jpg"
    check "--max-detections must be >= 1, found 0" --max-detections 0 "$I/home.jpg"
    check "--every must be >= 1, found 0" --every 0 "$I/home.jpg"
    check "--batch-size must be >= 1, found 0" --batch-size 0 "$I/home.jpg"
    check '--classes: "unicorn" is not one of the model'"'"'s labels (person, bicycle, car' --classes dog,unicorn "$I/home.jpg"
    check "--threads must be 0" --threads -1 "$I/home.jpg"
    check "--device" --device tpu "$I/home.jpg"
    "$APPS/sense-detect" --help | grep -q "Usage: sense-detect" || fail "help"
    "$APPS/sense-detect" --version | grep -q "^sense-detect [0-9]" || fail "version" ;;
  detect_json_keeps_order_and_reports_errors)
    # A corrupt image in the middle gets its own line; the others keep order and results.
    "$APPS/sense-detect" --json -b 2 "$I/messi5.jpg" "$I/truncated.jpg" "$I/home.jpg" "$I/missing.jpg" "$I/butterfly.jpg" > "$T/out" 2> "$T/err"
    [ $? -eq 1 ] || fail "expected exit 1 when inputs fail"
    jsonl "$T/out" "len(rows)==5 and [r['input'].split('/')[-1] for r in rows]==['messi5.jpg','truncated.jpg','home.jpg','missing.jpg','butterfly.jpg'] and 'error' in rows[1] and rows[3]['error']['code']=='file' and all('detections' in rows[i] for i in (0,2,4))"
    # Shape: box [x1, y1, x2, y2] inside the image, a label, a score above the model's threshold, best first.
    jsonl "$T/out" "all(len(d['box'])==4 and 0<=d['box'][0]<=d['box'][2]<=rows[0]['width'] and 0<=d['box'][1]<=d['box'][3]<=rows[0]['height'] and isinstance(d['label'],str) and 0<d['score']<=1 for d in rows[0]['detections']) and any(d['label']=='person' for d in rows[0]['detections']) and [d['score'] for d in rows[0]['detections']]==sorted([d['score'] for d in rows[0]['detections']], reverse=True)"
    # Readable output: one line per input, the error in its place (and on stderr).
    "$APPS/sense-detect" "$I/messi5.jpg" "$I/truncated.jpg" "$I/home.jpg" > "$T/h" 2> "$T/err"
    grep -q "truncated JPEG" "$T/err" || fail "stderr: $(cat "$T/err")"
    [ "$(wc -l < "$T/h")" -eq 3 ] || fail "3 inputs, $(wc -l < "$T/h") lines: $(cat "$T/h")"
    sed -n 1p "$T/h" | grep -q "messi5.jpg: [0-9]* objects*: person 0\.[0-9][0-9] \[" || fail "line 1: $(sed -n 1p "$T/h")"
    sed -n 2p "$T/h" | grep -q "truncated.jpg: error input: " || fail "line 2: $(sed -n 2p "$T/h")"
    # stdin list and --classes as an allow list.
    printf '%s\n' "$I/messi5.jpg" "$I/home.jpg" | "$APPS/sense-detect" --json --classes person --threshold 0.2 > "$T/s" || fail "stdin exit $?"
    jsonl "$T/s" "len(rows)==2 and len(rows[0]['detections'])>0 and all(d['label']=='person' for r in rows for d in r['detections'])" ;;
  detect_draw_and_crops)
    "$APPS/sense-detect" --json --draw "$T/draw" --crops "$T/crops" "$I/messi5.jpg" "$I/butterfly_rgba.png" > "$T/out" || fail "exit $?"
    [ -f "$T/draw/messi5.jpg" ] && [ -f "$T/draw/butterfly_rgba.png" ] || fail "annotated copies: $(ls "$T/draw")"
    jsonl "$T/out" "rows[0]['draw'].endswith('messi5.jpg') and len(rows[0]['crops'])==len(rows[0]['detections'])>0 and rows[0]['crops'][0].endswith('messi5.0.'+''.join(c if c.isalnum() else '_' for c in rows[0]['detections'][0]['label'])+'.jpg')"
    "$PY" - "$T/out" "$I/messi5.jpg" <<'CHECK' || fail "drawn picture or crops do not match"
import json, sys
from PIL import Image
r = json.loads(open(sys.argv[1]).readline())
src, drawn = Image.open(sys.argv[2]).convert("RGB"), Image.open(r["draw"]).convert("RGB")
assert drawn.size == src.size, (drawn.size, src.size)
# The annotated copy differs from the photo along the best box's edge, not far away from every box.
x1, y1, x2, y2 = [int(round(v)) for v in r["detections"][0]["box"]]
edge = [(x1 + 1, (y1 + y2) // 2), ((x1 + x2) // 2, y2 - 2)]
assert any(sum(abs(a - b) for a, b in zip(src.getpixel(p), drawn.getpixel(p))) > 60 for p in edge), "no box drawn"
for d, path in zip(r["detections"], r["crops"]):
    x1, y1, x2, y2 = d["box"]
    w, h = Image.open(path).size
    assert abs(w - (x2 - x1)) <= 2 and abs(h - (y2 - y1)) <= 2, (path, w, h, d["box"])
CHECK
    ;;
  detect_video)
    # A generated 12-frame video at 25 fps: every 4th frame, in order, with timestamps.
    "$PY" - "$T/clip.avi" "$I/messi5.jpg" "$I/home.jpg" <<'VID' || skip "cv2 cannot write MJPG video here"
import sys, cv2
w = cv2.VideoWriter(sys.argv[1], cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (320, 240))
assert w.isOpened()
for i in range(12):
    w.write(cv2.resize(cv2.imread(sys.argv[2 + (i // 6)]), (320, 240)))
w.release()
VID
    "$APPS/sense-detect" --json --every 4 "$I/home.jpg" "$T/clip.avi" "$I/messi5.jpg" > "$T/out" || fail "exit $?"
    jsonl "$T/out" "len(rows)==5 and 'frame' not in rows[0] and [r.get('frame') for r in rows[1:4]]==[0,4,8] and [round(r['time'],3) for r in rows[1:4]]==[0.0,0.16,0.32] and all(r['input'].endswith('clip.avi') and r['width']==320 for r in rows[1:4]) and any(d['label']=='person' for d in rows[1]['detections']) and rows[4]['input'].endswith('messi5.jpg')"
    "$APPS/sense-detect" --every 4 --draw "$T/d" "$T/clip.avi" > "$T/h" || fail "exit $?"
    grep -q "clip.avi frame 4 (0.160 s): " "$T/h" || fail "readable: $(cat "$T/h")"
    [ -f "$T/d/clip.f000008.jpg" ] || fail "frame pictures: $(ls "$T/d")"
    printf 'not a video' > "$T/bad.mp4"
    "$APPS/sense-detect" --json "$T/bad.mp4" "$I/home.jpg" > "$T/out" 2> /dev/null
    [ $? -eq 1 ] || fail "a bad video: expected exit 1"
    jsonl "$T/out" "len(rows)==2 and rows[0]['error']['code']=='input' and 'detections' in rows[1]" ;;
  detect_dog_bicycle_car)
    [ -f "$SHARED/images/dog.jpg" ] || skip "needs ../shared/data/images/dog.jpg"
    "$APPS/sense-detect" --json --draw "$T/out" "$SHARED/images/dog.jpg" > "$T/j" || fail "exit $?"
    jsonl "$T/j" "{'dog','bicycle','car'} <= {d['label'] for d in rows[0]['detections']}"
    [ -s "$T/out/dog.jpg" ] || fail "no picture" ;;
  eval_detection_own_boxes)
    # A detector scored on its own detections (written as the text format)
    # finds every box exactly: AP 1. Checks the box list reader, the label
    # mapping and that boxes are in the image's pixels. A truncated image
    # in the list is counted as failed and left out (exit 1).
    "$APPS/sense-detect" --json "$I/messi5.jpg" "$I/home.jpg" > "$T/own" || fail "detect exit $?"
    "$PY" - "$T/own" "$T/boxes.txt" <<'MK' || fail "writing the box list"
import json, sys
with open(sys.argv[2], "w") as out:
    out.write("# file x y w h label\n")
    for r in map(json.loads, open(sys.argv[1])):
        for d in r["detections"]:
            x1, y1, x2, y2 = d["box"]
            out.write(f"{r['input']} {x1!r} {y1!r} {x2 - x1!r} {y2 - y1!r} {d['label']}\n")
MK
    "$APPS/sense-eval" --model "$D" --json "$T/boxes.txt" > "$T/out" || fail "eval exit $?: $(cat "$T/out")"
    jsonl "$T/out" "rows[0]['images']==2 and rows[0]['failed']==0 and abs(rows[0]['AP']-1)<1e-9 and abs(rows[0]['AP50']-1)<1e-9 and rows[0]['threshold']<0.02 and 'person' in rows[0]['per_class']"
    echo "$I/truncated.jpg 1 1 5 5 person" >> "$T/boxes.txt"
    "$APPS/sense-eval" --json "$T/boxes.txt" > "$T/out" 2> "$T/err"
    [ $? -eq 1 ] || fail "expected exit 1 with a failed image"
    jsonl "$T/out" "rows[0]['images']==2 and rows[0]['failed']==1"
    grep -q truncated "$T/err" || fail "stderr: $(cat "$T/err")"
    "$APPS/sense-eval" --threshold 2 "$T/boxes.txt" 2> "$T/err"; [ $? -eq 2 ] || fail "--threshold 2 should exit 2"
    "$APPS/sense-eval" --detection --help | grep -q "pr-png" || fail "detection help" ;;
  eval_detection_coco_val_mini)
    # The issue's measurement: COCO's rules on coco-val-mini, the default detector.
    [ -f "$SHARED/coco-val-mini/instances.json" ] || skip "needs ../shared/data/coco-val-mini"
    "$APPS/sense-eval" --json --pr-png "$T/pr.png" --save-detections "$T/dets.json" "$SHARED/coco-val-mini" > "$T/out" || fail "exit $?"
    jsonl "$T/out" "rows[0]['images']==82 and rows[0]['failed']==0 and rows[0]['AP']>=0.265 and rows[0]['AP50']>=0.415"
    [ -s "$T/pr.png" ] || fail "no PR curve PNG"
    # The same detections scored by scripts/coco_eval.py (the pycocotools port) give the same figures.
    "$PY" - "$T/out" "$T/dets.json" "$SHARED/coco-val-mini/instances.json" "$SRC/scripts" <<'CMP' || fail "C++ and coco_eval.py disagree"
import json, sys
sys.path.insert(0, sys.argv[4])
from coco_eval import evaluate
ours = json.loads(open(sys.argv[1]).readline())
ref = evaluate(json.load(open(sys.argv[3])), json.load(open(sys.argv[2])))
for k in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100"):
    assert abs(ours[k] - ref[k]) < 1e-6, (k, ours[k], ref[k])
CMP
    ;;
  *) fail "unknown scenario" ;;
  esac ;;
# ---- users' own detectors: sidecars, cascades, faces (issue 13, helper D3) ----
thirdparty_*)
  M=${SHARED%/data}/models
  case $scenario in
  thirdparty_faces_json)
    # The issue's done-when: the recommended face model finds the two faces.
    [ -f "$SHARED/images/two_people.jpg" ] || skip "needs ../shared/data/images/two_people.jpg"
    "$APPS/sense-detect" --threads 1 --model "$SRC/models/faces.json" "$SHARED/images/two_people.jpg" > "$T/h" || fail "exit $?"
    grep -q "two_people.jpg: 2 objects: face" "$T/h" || fail "expected two faces: $(cat "$T/h")"
    "$APPS/sense-detect" --threads 1 --json --model "$SRC/models/faces.json" "$SHARED/images/two_people.jpg" "$SHARED/images/fruits.jpg" > "$T/j" || fail "exit $?"
    jsonl "$T/j" "len(rows[0]['detections'])==2 and sorted(d['box'][0] for d in rows[0]['detections'])[0]<400<sorted(d['box'][0] for d in rows[0]['detections'])[1] and rows[1]['detections']==[]" ;;
  thirdparty_sidecars)
    # Each shared third-party model runs through sense-detect with only its sidecar.
    [ -d "$M/yunet" ] || skip "needs ../shared/models"
    for m in yolo-fastest-1.1-xl fastestdet; do
      "$APPS/sense-detect" --threads 1 --json --model "$SRC/models/third-party/$m.json" "$SHARED/images/dog.jpg" > "$T/$m" || fail "$m exit $?"
      jsonl "$T/$m" "{'dog','bicycle'} <= {d['label'] for d in rows[0]['detections']} and ({'car','truck'} & {d['label'] for d in rows[0]['detections']})"
    done
    for m in yunet ultraface; do
      "$APPS/sense-detect" --threads 1 --json --model "$SRC/models/third-party/$m.json" "$SHARED/images/two_people.jpg" > "$T/$m" || fail "$m exit $?"
      jsonl "$T/$m" "len(rows[0]['detections'])==2 and all(d['label']=='face' for d in rows[0]['detections'])"
    done
    "$APPS/sense-info" "$SRC/models/third-party/yolo-fastest-1.1-xl.json" | grep -q "backend      darknet-opencv" || fail "sense-info backend" ;;
  thirdparty_cascade)
    [ -f /usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml ] || skip "needs Debian's opencv-data"
    [ -f "$SHARED/images/two_people.jpg" ] || skip "needs ../shared/data/images/two_people.jpg"
    "$APPS/sense-detect" --threads 1 --json --model "$SRC/models/cascades/frontal-face-alt2.json" "$SHARED/images/two_people.jpg" > "$T/j" || fail "exit $?"
    jsonl "$T/j" "len(rows[0]['detections'])==2 and all(0.5<d['score']<1 for d in rows[0]['detections'])"
    sed 's|haarcascade_frontalface_alt2.xml|no_such.xml|' "$SRC/models/cascades/frontal-face-alt2.json" > "$T/bad.json"
    "$APPS/sense-detect" --threads 1 --model "$T/bad.json" "$I/messi5.jpg" > /dev/null 2> "$T/err"; rc=$?
    [ $rc -ne 0 ] || fail "a missing cascade should fail"
    grep -q "files.model" "$T/err" || fail "stderr: $(cat "$T/err")" ;;
  thirdparty_coco_ap)
    # The SOURCE.md references, through sense-eval: Yolo-Fastest AP 19.5 / AP50 40.8, FastestDet 16.4 / 31.0.
    [ -f "$SHARED/coco-val-mini/instances.json" ] || skip "needs ../shared/data/coco-val-mini"
    [ -d "$M/fastestdet" ] || skip "needs ../shared/models"
    "$APPS/sense-eval" --json --threads 1 --iou 0.5 --multi-label --model "$SRC/models/third-party/yolo-fastest-1.1-xl.json" "$SHARED/coco-val-mini" > "$T/y" || fail "exit $?"
    jsonl "$T/y" "rows[0]['failed']==0 and abs(rows[0]['AP']-0.195)<0.0015 and abs(rows[0]['AP50']-0.408)<0.0015"
    "$APPS/sense-eval" --json --threads 1 --iou 0.5 --single-label --model "$SRC/models/third-party/fastestdet.json" "$SHARED/coco-val-mini" > "$T/f" || fail "exit $?"
    jsonl "$T/f" "rows[0]['failed']==0 and abs(rows[0]['AP']-0.164)<0.0015 and abs(rows[0]['AP50']-0.310)<0.0015" ;;
  *) fail "unknown scenario" ;;
  esac ;;
# ---- out-of-domain detection (issue 16): the shipped bundles' detectors ----
ood_classify_flags_photos)
  FM=$SRC/models/fashion-mnist.pt; S=$SRC/models/samples/fashion-mnist
  "$APPS/sense-classify" -m "$FM" "$I/messi5.jpg" "$S/000_ankle-boot.png" "$I/butterfly.jpg" "$S/018_bag.png" > "$T/out" || fail "exit $?"
  [ "$(wc -l < "$T/out")" -eq 4 ] || fail "one line per input: $(cat "$T/out")"
  sed -n 1p "$T/out" | grep -q "messi5.jpg: not like the images this model knows: Fashion-MNIST, 28 x 28 grey clothing on black (out-of-domain score" || fail "photo not flagged: $(cat "$T/out")"
  sed -n 3p "$T/out" | grep -q "butterfly.jpg: not like the images" || fail "photo not flagged: $(cat "$T/out")"
  sed -n 2p "$T/out" | grep -q "^$S/000_ankle-boot.png: Ankle boot (" || fail "sample changed: $(cat "$T/out")"
  grep -q "ankle-boot.png: not like\|bag.png: not like" "$T/out" && fail "sample flagged: $(cat "$T/out")"
  "$APPS/sense-classify" -m "$FM" --json "$I/messi5.jpg" "$S/018_bag.png" > "$T/j" || fail "json exit $?"
  jsonl "$T/j" "rows[0]['out_of_domain']['flag'] is True and rows[0]['out_of_domain']['score']>0 and rows[1]['out_of_domain']['flag'] is False and rows[1]['categories'][0]['label']=='Bag'"
  # a bundle without a detector says nothing about it
  "$APPS/sense-classify" -m "$MODELS/colour3.pt" --json "$I/red.png" > "$T/c" || fail "colour3 exit $?"
  jsonl "$T/c" "'out_of_domain' not in rows[0]" ;;
ood_classify_reject)
  FM=$SRC/models/fashion-mnist.pt; S=$SRC/models/samples/fashion-mnist
  "$APPS/sense-classify" -m "$FM" --reject-ood "$S/002_trouser.png" "$I/messi5.jpg" "$S/009_sneaker.png" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 with a rejected input"
  sed -n 1p "$T/out" | grep -q "trouser.png: Trouser (" || fail "others affected: $(cat "$T/out")"
  sed -n 2p "$T/out" | grep -q "messi5.jpg: error out_of_domain: not like the images this model knows" || fail "not rejected: $(cat "$T/out")"
  sed -n 3p "$T/out" | grep -q "sneaker.png: Sneaker (" || fail "others affected: $(cat "$T/out")"
  grep -q "messi5.jpg: not like the images" "$T/err" || fail "stderr: $(cat "$T/err")"
  "$APPS/sense-classify" -m "$FM" --reject-ood --json "$I/messi5.jpg" "$S/002_trouser.png" > "$T/j"
  [ $? -eq 1 ] || fail "json: expected exit 1"
  jsonl "$T/j" "rows[0]['error']['code']=='out_of_domain' and rows[1]['categories'][0]['label']=='Trouser' and rows[1]['out_of_domain']['flag'] is False"
  "$APPS/sense-classify" -m "$FM" --reject-ood "$S/002_trouser.png" > /dev/null || fail "an accepted input alone must exit 0" ;;
ood_sentiment)
  M=$SRC/models/sentiment-sst2.pt
  "$APPS/sense-sentiment" -m "$M" --json "A gorgeous, witty, seductive movie." "日本語の文です。" "SELECT name FROM users WHERE id = 42;" > "$T/j" || fail "exit $?"
  jsonl "$T/j" "[r['out_of_domain']['flag'] for r in rows]==[False, True, True]"
  "$APPS/sense-sentiment" -m "$M" "日本語の文です。" "A gorgeous, witty, seductive movie." > "$T/out" || fail "exit $?"
  sed -n 1p "$T/out" | grep -q "\[not like the texts this model knows: English" || fail "not shown: $(cat "$T/out")"
  sed -n 2p "$T/out" | grep -q "not like" && fail "in-domain flagged: $(cat "$T/out")"
  "$APPS/sense-sentiment" -m "$M" --reject-ood "日本語の文です。" "A gorgeous, witty, seductive movie." > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1"
  sed -n 1p "$T/out" | grep -q "^error    out_of_domain: arg:1: not like the texts" || fail "not rejected: $(cat "$T/out")"
  sed -n 2p "$T/out" | grep -q "^positive" || fail "other text affected: $(cat "$T/out")" ;;
ood_info_and_eval)
  FM=$SRC/models/fashion-mnist.pt
  "$APPS/sense-info" "$FM" > "$T/out" || fail "exit $?"
  grep -q "^  ood          mahalanobis (standardised); flagged above" "$T/out" || fail "no detector row: $(cat "$T/out")"
  grep -q "domain: Fashion-MNIST, 28 x 28 grey clothing on black" "$T/out" || fail "no domain"
  grep -q "fitted on: the 55,000 Fashion-MNIST training images" "$T/out" || fail "no fit data"
  "$APPS/sense-eval" --ood 2> "$T/err"; [ $? -eq 2 ] || fail "--ood without sets: expected exit 2"
  "$APPS/sense-eval" --ood -m "$MODELS/colour3.pt" a b 2> "$T/err"; [ $? -eq 1 ] || fail "no detector: expected exit 1"
  grep -q "has no out-of-domain detector" "$T/err" || fail "stderr: $(cat "$T/err")"
  idx=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  [ -f "$idx" ] || skip "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)"
  mkdir -p "$T/photos" && cp "$I/messi5.jpg" "$I/butterfly.jpg" "$I/home.jpg" "$I/left01.jpg" "$I/squirrel_cls.jpg" "$T/photos/"
  "$APPS/sense-eval" --ood -m "$FM" --limit 1000 --json "$idx" "$T/photos" > "$T/j" || fail "eval exit $?"
  jsonl "$T/j" "rows[0]['all_out_of_domain']['in_domain']==1000 and rows[0]['all_out_of_domain']['auroc']>0.95 and 0.9<rows[0]['all_out_of_domain']['tpr_at_threshold']<1 and rows[0]['accuracy_accepted']>=rows[0]['accuracy_all']"
  printf 'sentence\tlabel\na gorgeous , witty , seductive movie .\t1\nan ugly , tedious mess .\t0\n' > "$T/in.tsv"
  "$APPS/sense-eval" --ood -m "$SRC/models/sentiment-sst2.pt" "$T/in.tsv" "$SRC/tests/data/ood/text/emoji.txt" > "$T/t" || fail "text eval exit $?"
  grep -q "emoji.txt *100  *1.0000" "$T/t" || fail "text eval: $(cat "$T/t")" ;;
ood_done_when)
  [ -n "${SHARED:-}" ] && [ -f "$SHARED/images/dog.jpg" ] || skip "../shared/data is absent"
  "$APPS/sense-classify" "$SHARED/images/dog.jpg" > "$T/out" || fail "exit $?"
  grep -q "dog.jpg: not like the images this model knows" "$T/out" || fail "dog not flagged: $(cat "$T/out")"
  "$APPS/sense-classify" "$SRC/models/samples/fashion-mnist/" > "$T/s" || fail "samples exit $?"
  grep -q "not like" "$T/s" && fail "a sample is flagged: $(cat "$T/s")"
  [ "$(wc -l < "$T/s")" -eq 12 ] || fail "12 samples: $(cat "$T/s")" ;;
# --- embeddings and similarity search (issue 15) ---------------------------
embed_texts_json_in_order)
  # tiny_text_embed_mean: token i is (i, -i, i % 2); "good film" = [CLS] good film [SEP] = 2 4 6 3
  "$APPS/sense-embed" -m "$MODELS/tiny_text_embed_mean.pt" --json "good film" "" "good" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 (an empty text)"
  jsonl "$T/out" "len(rows)==3 and rows[0]['input']=='good film' and rows[0]['embedding']==[3.75,-3.75,0.25] and rows[1]['error']['code']=='input' and rows[2]['embedding'][0]==3.0"
  printf 'good\nfilm\n' | "$APPS/sense-embed" -m "$MODELS/tiny_text_embed_cls.pt" --json --quantize > "$T/q" || fail "stdin exit $?"
  jsonl "$T/q" "len(rows)==2 and rows[0]['int8']==[127,-127,0] and abs(rows[0]['scale']-2/127)<1e-6"
  "$APPS/sense-embed" -m "$MODELS/tiny_text_embed_mean.pt" "good film" > "$T/h" || fail "human exit $?"
  grep -q "^good film: \[3.7500, -3.7500, 0.2500\] (3-d)$" "$T/h" || fail "human: $(cat "$T/h")" ;;
embed_images_npy)
  "$APPS/sense-embed" -m "$MODELS/tiny_image_embed.pt" --npy "$T/v.npy" "$I/red.png" "$I/missing.png" "$I/blue.png" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 (a missing file)"
  [ "$(wc -l < "$T/out")" -eq 3 ] || fail "one line per input: $(cat "$T/out")"
  "$PY" -c "
import numpy as np, sys
v = np.load(sys.argv[1])
assert v.shape == (3, 3) and v.dtype == np.float32, (v.shape, v.dtype)
assert np.isnan(v[1]).all() and np.isfinite(v[[0, 2]]).all()
assert abs(np.linalg.norm(v[0]) - 1) < 1e-5
" "$T/v.npy" || fail "npy check" ;;
similar_images_index_query_sheet)
  mkdir -p "$T/shop/a" && cp "$I/red.png" "$I/green.png" "$I/blue.png" "$I/butterfly.jpg" "$T/shop/a/"
  "$APPS/sense-similar" index "$T/shop" -m "$MODELS/tiny_image_embed.pt" -o "$T/shop.sidx" > "$T/out" || fail "index exit $?"
  grep -q "indexed 4 images (exact, 3-d, tiny-image-embed)" "$T/out" || fail "index: $(cat "$T/out")"
  "$APPS/sense-similar" query "$T/shop.sidx" -m "$MODELS/tiny_image_embed.pt" -k 2 --json --sheet "$T/sheet.png" "$I/green.png" "$I/missing.png" "$I/red.png" > "$T/q" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 (a missing query)"
  jsonl "$T/q" "len(rows)==3 and rows[0]['neighbors'][0]['item'].endswith('green.png') and abs(rows[0]['neighbors'][0]['score']-1)<1e-5 and len(rows[0]['neighbors'])==2 and rows[1]['error']['code']=='file' and rows[2]['neighbors'][0]['item'].endswith('red.png')"
  "$PY" -c "from PIL import Image; import sys; im=Image.open(sys.argv[1]); assert im.size[0] > 300 and im.size[1] > 200, im.size" "$T/sheet.png" || fail "sheet"
  "$APPS/sense-similar" query "$T/shop.sidx" -m "$MODELS/tiny_image_embed.pt" -k 1 --skip-same "$T/shop/a/red.png" > "$T/s" || fail "skip-same exit $?"
  grep -q "red.png$" <(tail -n +2 "$T/s") && fail "--skip-same kept the query: $(cat "$T/s")"
  "$APPS/sense-similar" info "$T/shop.sidx" | grep -q "4 items, exact, cosine, model tiny-image-embed" || fail "info" ;;
similar_texts_add_remove)
  printf 'good film\nbad film\n\nbad bad bad\n' > "$T/texts.txt"
  "$APPS/sense-similar" index "$T/texts.txt" -m "$MODELS/tiny_text_embed_pooled.pt" --kind hnsw -o "$T/t.sidx" > "$T/out" || fail "index exit $?"
  grep -q "indexed 3 texts (hnsw" "$T/out" || fail "blank lines are not items: $(cat "$T/out")"
  "$APPS/sense-similar" query "$T/t.sidx" -m "$MODELS/tiny_text_embed_pooled.pt" --json -k 3 "good film" > "$T/q" || fail "query exit $?"
  jsonl "$T/q" "rows[0]['query']=='good film' and rows[0]['neighbors'][0]['item']=='good film' and len(rows[0]['neighbors'])==3"
  printf 'good good\n' > "$T/more.txt"
  "$APPS/sense-similar" add "$T/t.sidx" -m "$MODELS/tiny_text_embed_pooled.pt" "$T/more.txt" | grep -q "added 1 item(s); 4 in" || fail "add"
  "$APPS/sense-similar" remove "$T/t.sidx" "good film" | grep -q "removed 1 item(s); 3 left" || fail "remove"
  "$APPS/sense-similar" query "$T/t.sidx" -m "$MODELS/tiny_text_embed_pooled.pt" --json -k 5 "good film" > "$T/q" || fail "query after remove"
  jsonl "$T/q" "'good film' not in [n['item'] for n in rows[0]['neighbors']] and 'good good' in [n['item'] for n in rows[0]['neighbors']]"
  "$APPS/sense-similar" remove "$T/t.sidx" "never indexed" > /dev/null 2> "$T/err"; [ $? -eq 1 ] || fail "removing a missing item: exit 1"
  # a line that fails names its file and line, and the others are indexed
  printf 'good film\nbad \xff film\nbad film\n' > "$T/bad.txt"
  "$APPS/sense-similar" index "$T/bad.txt" -m "$MODELS/tiny_text_embed_pooled.pt" -o "$T/b.sidx" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "a failed line: exit 1"
  grep -q "indexed 2 texts .*(1 failed)" "$T/out" || fail "index with a bad line: $(cat "$T/out")"
  grep -qF "bad.txt:2: invalid UTF-8" "$T/err" || fail "the bad line's place: $(cat "$T/err")" ;;
similar_model_mismatch_and_bad_files)
  printf 'good film\nbad film\n' > "$T/texts.txt"
  "$APPS/sense-similar" index "$T/texts.txt" -m "$MODELS/tiny_text_embed_pooled.pt" -o "$T/t.sidx" > /dev/null || fail "index"
  "$APPS/sense-similar" query "$T/t.sidx" -m "$MODELS/tiny_text_embed_mean.pt" "good" > /dev/null 2> "$T/err"
  [ $? -eq 1 ] || fail "another model: expected exit 1"
  grep -q "the index was built with tiny-text-embed-pooled" "$T/err" || fail "mismatch message: $(cat "$T/err")"
  head -c 100 "$T/t.sidx" > "$T/cut.sidx"
  "$APPS/sense-similar" query "$T/cut.sidx" "good" > /dev/null 2> "$T/err"; [ $? -eq 1 ] || fail "truncated: exit 1"
  grep -q "truncated vector index" "$T/err" || fail "truncated message: $(cat "$T/err")"
  "$APPS/sense-similar" info "$I/red.png" > /dev/null 2> "$T/err"; [ $? -eq 1 ] || fail "foreign: exit 1"
  grep -q "not a sense vector index" "$T/err" || fail "foreign message: $(cat "$T/err")" ;;
similar_usage_errors)
  check() { want=$1; shift; "$APPS/sense-similar" "$@" < /dev/null > /dev/null 2> "$T/err"
            [ $? -eq 2 ] || fail "$* should exit 2"; grep -q -- "$want" "$T/err" || fail "$*: message lacks $want: $(cat "$T/err")"; }
  check "no command"
  check "unknown command" frobnicate x
  check "needs -o" index "$I"
  check "--top-k" query x.sidx a -k 0
  check "--kind" index "$I" -o "$T/x.sidx" --kind lsh
  check "--similarity" index "$I" -o "$T/x.sidx" --similarity l2
  "$APPS/sense-similar" --help | grep -q "sense-similar query INDEX" || fail "help"
  "$APPS/sense-embed" --help | grep -q "Usage: sense-embed" || fail "embed help"
  "$APPS/sense-embed" -m "$MODELS/tiny_text_embed_mean.pt" --batch-size -1 a 2> /dev/null; [ $? -eq 2 ] || fail "embed --batch-size -1"
  "$APPS/sense-embed" -m "$MODELS/colour3.pt" "$I/red.png" > /dev/null 2> "$T/err"; [ $? -eq 1 ] || fail "classifier bundle: exit 1"
  grep -q "an embedding bundle" "$T/err" || fail "embed task message: $(cat "$T/err")" ;;
embed_write_errors)
  "$APPS/sense-embed" -m "$MODELS/tiny_text_embed_mean.pt" "good" > /dev/full 2> "$T/err"; [ $? -eq 1 ] || fail "embed on /dev/full"
  grep -q "cannot write to standard output" "$T/err" || fail "embed stderr: $(cat "$T/err")"
  printf 'good film\n' > "$T/texts.txt"
  "$APPS/sense-similar" index "$T/texts.txt" -m "$MODELS/tiny_text_embed_pooled.pt" -o "$T/t.sidx" > /dev/null || fail "index"
  "$APPS/sense-similar" query "$T/t.sidx" -m "$MODELS/tiny_text_embed_pooled.pt" "good" > /dev/full 2> "$T/err"; [ $? -eq 1 ] || fail "similar on /dev/full"
  "$APPS/sense-similar" index "$T/texts.txt" -m "$MODELS/tiny_text_embed_pooled.pt" -o /nonexistent/dir/t.sidx > /dev/null 2> "$T/err"
  [ $? -eq 1 ] || fail "unwritable index: exit 1" ;;
eval_sts_and_retrieval_modes)
  printf 'good film\tgood film\t5\ngood film\tbad bad\t1\ngood\tgood film\t4\n' > "$T/pairs.tsv"
  "$APPS/sense-eval" sts -m "$MODELS/tiny_text_embed_pooled.pt" --json "$T/pairs.tsv" > "$T/out" || fail "sts exit $?"
  jsonl "$T/out" "rows[0]['pairs']==3 and rows[0]['spearman_x100']==100.0"
  mkdir -p "$T/set/warm" "$T/set/cold"
  cp "$I/red.png" "$T/set/warm/r1.png"; cp "$I/red.png" "$T/set/warm/r2.png"; cp "$I/blue.png" "$T/set/cold/b1.png"; cp "$I/blue.png" "$T/set/cold/b2.png"
  "$APPS/sense-eval" retrieval -m "$MODELS/tiny_image_embed.pt" -k 1 --json "$T/set" > "$T/r" || fail "retrieval exit $?"
  jsonl "$T/r" "rows[0]['items']==4 and rows[0]['precision_at_k']==1.0 and rows[0]['map']==1.0"
  "$APPS/sense-eval" sts --help | grep -q "Spearman" || fail "sts help" ;;
similar_fashion_mnist_sneakers)
  # Done-when of issue 15: the default model over the Fashion-MNIST test set;
  # a sneaker query returns sneakers and a contact sheet.
  idx=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  [ -f "$idx" ] || skip "needs Debian package dataset-fashion-mnist ($idx)"
  [ -f "$SRC/models/fashion-embed.pt" ] || fail "models/fashion-embed.pt is missing"
  "$APPS/sense-similar" index "$idx" -m "$SRC/models/fashion-embed.pt" -o "$T/fm.sidx" > "$T/out" || fail "index exit $?"
  grep -q "indexed 10000 images" "$T/out" || fail "index: $(cat "$T/out")"
  "$APPS/sense-similar" query "$T/fm.sidx" -m "$SRC/models/fashion-embed.pt" --json --sheet "$T/sheet.png" \
    "$SRC/models/samples/fashion-mnist/009_sneaker.png" > "$T/q" || fail "query exit $?"
  "$PY" -c "
import gzip, json, sys
labels = gzip.open(sys.argv[2]).read()[8:]
row = json.loads(open(sys.argv[1]).readline())
got = [labels[int(n['item'].rsplit('#', 1)[1])] for n in row['neighbors']]
assert len(got) == 10 and sum(g == 7 for g in got) >= 9, got  # 7 = Sneaker
" "$T/q" "${idx/images-idx3/labels-idx1}" || fail "neighbours are not sneakers: $(cat "$T/q")"
  [ -s "$T/sheet.png" ] || fail "no contact sheet" ;;
embed_default_text_model)
  # The shipped models/text-embed.pt (int8 USE lite through LibTorch's quantised
  # ops) in the C++ path: 1701-d unit vectors, a paraphrase closer than an
  # unrelated sentence, the empty line an error in its place, and a sentence's
  # vector the same alone as in a batch; its tokenizer keeps a word's pieces in
  # capitals and next to quotes, brackets and hyphens; its number channel
  # reads "five" as 5 and sets a changed figure apart.
  M=$SRC/models/text-embed.pt
  [ -f "$M" ] || fail "models/text-embed.pt is missing"
  "$APPS/sense-embed" -m "$M" --threads 1 --json "A man is playing a guitar." "" "Someone plays the guitar." \
    "The stock market fell sharply today." > "$T/b" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 for the empty text"
  "$APPS/sense-embed" -m "$M" --threads 1 --json "The stock market fell sharply today." > "$T/a" || fail "alone: exit $?"
  "$PY" -c "
import json, math, sys
b = [json.loads(l) for l in open(sys.argv[1])]
a = json.loads(open(sys.argv[2]).readline())['embedding']
assert len(b) == 4 and b[1]['error']['code'] == 'input', b[1]
g, p, s = (b[i]['embedding'] for i in (0, 2, 3))
assert all(len(v) == 1701 and abs(sum(x * x for x in v) - 1) < 1e-4 for v in (g, p, s, a))
cos = lambda u, v: sum(x * y for x, y in zip(u, v))
assert cos(g, p) > cos(g, s) + 0.1, (cos(g, p), cos(g, s))
assert cos(a, s) > 0.9999, cos(a, s)
" "$T/b" "$T/a" || fail "vectors: $(cut -c1-200 "$T/b")"
  # the bundle's tokenizer folds case, spaces quotes, brackets and hyphens off
  # words and reads typographic quotes as ASCII: a word keeps its pieces
  "$APPS/sense-tokenize" --bundle "$M" --pieces "$(printf 'the director-general (IAEA) said \xe2\x80\x9cfine\xe2\x80\x9d')" > "$T/p" || fail "tokenize: exit $?"
  grep -qxF '▁the ▁director ▁- ▁general ▁( ▁i a ea ▁) ▁said ▁" ▁fine ▁"' "$T/p" || fail "pieces: $(cat "$T/p")"
  "$APPS/sense-embed" -m "$M" --threads 1 --json "I don't think so, \"she\" said." "$(printf 'I don\xe2\x80\x99t think so, \xe2\x80\x9cshe\xe2\x80\x9d said.')" \
    "Why is my order late?" "WHY IS MY ORDER LATE?" "Sales rose 5 percent to 116.92 million." \
    "Sales rose five percent to 116.92 million." "Sales rose 7 percent to 116.78 million." > "$T/q" || fail "quotes: exit $?"
  "$PY" -c "
import json, sys
u, v, w, x, n, f, c = (json.loads(l)['embedding'] for l in open(sys.argv[1]))
cos = lambda a, b: sum(p * q for p, q in zip(a, b))
assert cos(u, v) > 0.9999 and cos(w, x) > 0.9999, (cos(u, v), cos(w, x))
# the shipped bundle: 0.994 against 0.970; without its number channel the
# margin is 0.012 (the fine-tuned USE lite sees figures a little itself)
assert cos(n, f) > cos(n, c) + 0.018, (cos(n, f), cos(n, c))
" "$T/q" || fail "typographic quotes, capitals or numbers: $(cut -c1-200 "$T/q")" ;;
# ---- entities (issue 14): sense-entities and sense-eval entities
entities_outputs_in_order)
  printf 'in Paris\n\nANGELA MERKEL\n' > "$T/f"
  printf 'Merkel met \xff\n' > "$T/bad"
  "$APPS/sense-entities" -m "$MODELS/tiny_ner_words.pt" "Angela Merkel met Merkel in Paris." -f "$T/f" -f "$T/bad" "the New York" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 when a line fails"
  [ "$(wc -l < "$T/out")" -eq 6 ] || fail "6 inputs, $(wc -l < "$T/out") lines: $(cat -A "$T/out")"
  sed -n 1p "$T/out" | grep -qxF '[Angela Merkel](PER) met [Merkel](PER) in [Paris](LOC).' || fail "line 1: $(sed -n 1p "$T/out")"
  sed -n 2p "$T/out" | grep -qxF 'in [Paris](LOC)' || fail "line 2: $(sed -n 2p "$T/out")"
  sed -n 3p "$T/out" | grep -q '^error input: ' || fail "line 3: $(sed -n 3p "$T/out")"
  sed -n 4p "$T/out" | grep -qxF '[ANGELA MERKEL](PER)' || fail "line 4: $(sed -n 4p "$T/out")"
  sed -n 5p "$T/out" | grep -q '^error input: invalid UTF-8' || fail "line 5: $(sed -n 5p "$T/out")"
  sed -n 6p "$T/out" | grep -qxF 'the [New York](LOC)' || fail "line 6: $(sed -n 6p "$T/out")"
  grep -q "f:2: " "$T/err" || fail "stderr: $(cat "$T/err")"
  # JSON: begin/end in code points, byte_begin/byte_end in bytes (the guillemet is 2 bytes)
  printf '\xc2\xabAngela Merkel\xc2\xbb in Paris\n' | "$APPS/sense-entities" -m "$MODELS/tiny_ner_words.pt" --json > "$T/j" || fail "json exit $?"
  jsonl "$T/j" "len(rows)==1 and [(e['text'],e['type'],e['begin'],e['end'],e['byte_begin'],e['byte_end']) for e in rows[0]['entities']]==[('Angela Merkel','PER',1,14,2,15),('Paris','LOC',19,24,21,26)] and all(rows[0]['text'][e['begin']:e['end']]==e['text'] for e in rows[0]['entities']) and 0<rows[0]['entities'][0]['score']<=1"
  "$APPS/sense-entities" -m "$MODELS/tiny_ner_words.pt" --conll "Angela Merkel" "in Paris" > "$T/c" || fail "conll exit $?"
  diff <(cut -f1,2 "$T/c") <(printf 'Angela\tB-PER\nMerkel\tI-PER\n\nin\tO\nParis\tB-LOC\n\n') || fail "conll: $(cat -A "$T/c")"
  "$APPS/sense-entities" -m "$MODELS/tiny_ner_words.pt" --explain --json "Angela Merkel in Paris" "met" > "$T/x" || fail "explain exit $?"
  jsonl "$T/x" "len(rows)==2 and [len(e['explanation']['words']) for e in rows[0]['entities']]==[4,4] and max(rows[0]['entities'][1]['explanation']['words'], key=lambda w: abs(w['weight']))['word']=='Paris' and rows[1]['entities']==[]"
  "$APPS/sense-entities" -m "$MODELS/tiny_ner_words.pt" --explain "in Paris" > "$T/x" || fail "explain exit $?"
  grep -qF 'in [Paris](LOC)  {Paris (LOC): Paris +1.00' "$T/x" || fail "explain text: $(cat "$T/x")" ;;
entities_types_and_usage_errors)
  "$APPS/sense-entities" -m "$MODELS/tiny_ner_words.pt" --types LOC "Angela Merkel in Paris" > "$T/out" || fail "exit $?"
  grep -qxF 'Angela Merkel in [Paris](LOC)' "$T/out" || fail "--types: $(cat "$T/out")"
  "$APPS/sense-entities" -m "$MODELS/tiny_ner_greedy.pt" --decoding greedy "the York" > "$T/out" || fail "greedy exit $?"
  grep -qxF 'the [York](LOC)' "$T/out" || fail "greedy: $(cat "$T/out")"
  check() { want=$1; shift; "$APPS/sense-entities" -m "$MODELS/tiny_ner_words.pt" "$@" < /dev/null > /dev/null 2> "$T/err"
            [ $? -eq 2 ] || fail "$* should exit 2"; grep -q -- "$want" "$T/err" || fail "$*: message lacks $want: $(cat "$T/err")"; }
  check "--batch-size" --batch-size 0 a
  check "--threads" --threads -1 a
  check "--threshold" --threshold 1.5 a
  check "--decoding" --decoding beam a
  check "ORG" --types ORG a
  check "exclude each other" --json --conll a
  "$APPS/sense-entities" -m "$MODELS/tiny_ner_greedy.pt" --decoding viterbi a < /dev/null > /dev/null 2> "$T/err"
  [ $? -eq 2 ] || fail "viterbi without CRF scores should exit 2"
  "$APPS/sense-entities" --help | grep -q "Usage: sense-entities" || fail "help"
  "$APPS/sense-entities" --version | grep -q "^sense-entities [0-9]" || fail "version"
  "$APPS/sense-entities" -m "$MODELS/tiny_ner_words.pt" "Paris" > /dev/full 2> "$T/err"; [ $? -eq 1 ] || fail "/dev/full" ;;
entities_default_model)
  [ -f "$SRC/models/ner-conll2003.pt" ] || skip "models/ner-conll2003.pt not present"
  echo "Angela Merkel met Emmanuel Macron in Paris on Tuesday." | "$APPS/sense-entities" -m "$SRC/models/ner-conll2003.pt" --json > "$T/j" || fail "exit $?"
  jsonl "$T/j" "[(e['text'],e['type'],e['begin'],e['end']) for e in rows[0]['entities']]==[('Angela Merkel','PER',0,13),('Emmanuel Macron','PER',18,33),('Paris','LOC',37,42)]" ;;
eval_entities)
  # conlleval mode on a hand-worked file: gold ORG MISC PER; predicted ORG LOC PER-with-other-boundaries
  printf -- '-DOCSTART- -X- O O\n\nEU B-ORG B-ORG\nrejects O O\nGerman B-MISC B-LOC\ncall O O\n\nPeter I-PER B-PER\nBlackburn I-PER O\n' > "$T/p.conll"
  "$APPS/sense-eval" entities --predicted "$T/p.conll" > "$T/out" || fail "exit $?"
  grep -qF "processed 6 tokens with 3 phrases; found: 3 phrases; correct: 1." "$T/out" || fail "counts: $(cat "$T/out")"
  grep -qF "accuracy:  50.00%; precision:  33.33%; recall:  33.33%; FB1:  33.33" "$T/out" || fail "scores: $(cat "$T/out")"
  "$APPS/sense-eval" entities --predicted --json "$T/p.conll" > "$T/j" || fail "json exit $?"
  jsonl "$T/j" "rows[0]['errors']['type_confusions']=={'MISC':{'LOC':1}} and rows[0]['errors']['boundary']=={'PER':1} and rows[0]['types']['ORG']['f1']==100.0"
  # model mode: the tiny tagger on IOB1 gold
  printf 'Angela I-PER\nMerkel I-PER\nmet O\nthe O\nNew I-LOC\nYork I-LOC\n\nParis I-LOC\n' > "$T/m.conll"
  "$APPS/sense-eval" entities -m "$MODELS/tiny_ner_words.pt" --json "$T/m.conll" > "$T/j" || fail "model exit $?"
  jsonl "$T/j" "rows[0]['overall']['f1']==100.0 and rows[0]['overall']['gold']==3 and rows[0]['sentences']==2"
  printf 'Angela\n' > "$T/bad.conll"
  "$APPS/sense-eval" entities --predicted "$T/bad.conll" > /dev/null 2> "$T/err"; [ $? -eq 1 ] || fail "bad file should exit 1"
  grep -q "bad.conll:1: expected at least 3 columns" "$T/err" || fail "stderr: $(cat "$T/err")" ;;
*) fail "unknown scenario" ;;
esac
echo "PASS [$scenario]"
