#!/usr/bin/env bash
# End-to-end scenarios for sense-tokenize; one per ctest test. Exit 0 pass,
# 1 fail, 77 skip. Environment: APPS, MODELS (test bundles), SHARED
# (../shared/data, may be absent), PY (a Python for JSON checks), SPM_ENCODE.
set -uo pipefail
scenario=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL [$scenario]: $*"; exit 1; }
skip() { echo "SKIP [$scenario]: $*"; exit 77; }
jsonl() { "$PY" -c "import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(0 if ($2) else 1)" "$1" \
  || fail "JSON check failed: $2 on $(cat "$1")"; }
TOK=$APPS/sense-tokenize
VOCAB=$SHARED/tokenizers/bert-base-uncased/vocab.txt
SPM=$SHARED/tokenizers/sentencepiece-test

case $scenario in
done_when)  # the issue's check, verbatim
  [ -f "$VOCAB" ] || skip "needs $VOCAB"
  echo "Hello, world!" | "$TOK" --vocab "$VOCAB" --json > "$T/out" || fail "exit $?"
  jsonl "$T/out" "len(rows)==1 and rows[0]['ids']==[101, 7592, 1010, 2088, 999, 102] and rows[0]['offsets']==[None,[0,5],[5,6],[7,12],[12,13],None] and rows[0]['tokens'][1]=='hello'" ;;
lines_keep_order_and_report_errors)
  printf 'good film\n\nbad \xff film\nBAD\n' | "$TOK" --bundle "$MODELS/tiny_text.pt" --json > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1 when a line fails"
  jsonl "$T/out" "len(rows)==4 and rows[0]['ids']==[2,4,6,3] and rows[1]['error']['code']=='input' and 'empty' in rows[1]['error']['message'] and 'byte 4 (0xff)' in rows[2]['error']['message'] and rows[3]['tokens']==['[CLS]','bad','[SEP]'] and rows[3]['source']=='stdin:4'"
  printf 'bad \xff film\n' | "$TOK" --bundle "$MODELS/tiny_text.pt" --json --replace-invalid-utf8 > "$T/out" || fail "replace exit $?"
  jsonl "$T/out" "rows[0]['ids']==[2,5,6,3] and rows[0]['offsets'][2]==[6,10]"
  "$TOK" --bundle "$MODELS/tiny_text.pt" "good" > "$T/human" || fail "human exit $?"
  grep -q 'good' "$T/human" && grep -q '0:4' "$T/human" || fail "human output: $(cat "$T/human")" ;;
decode)
  "$TOK" decode --bundle "$MODELS/tiny_text.pt" "2 4 6 3" "[2, 5]" "nope" "2 99" > "$T/out" 2> "$T/err"
  [ $? -eq 1 ] || fail "expected exit 1"
  diff "$T/out" <(printf 'good film\nbad\n\n\n') || fail "decoded: $(cat "$T/out")"
  grep -q 'arg:3: "nope" is not a token id' "$T/err" && grep -q "arg:4: id 99 is out of range" "$T/err" || fail "errors: $(cat "$T/err")" ;;
train_encode_decode)
  for i in $(seq 1 400); do echo "the quick brown fox number $i jumps over the lazy dog"; done > "$T/corpus.txt"
  "$TOK" train --output "$T/m.model" --vocab-size 60 --type bpe --json "$T/corpus.txt" > "$T/out" || fail "train exit $?"
  jsonl "$T/out" "rows[0]['vocab_size']==60 and rows[0]['model_type']=='bpe'"
  "$TOK" --model "$T/m.model" --ids "the lazy fox 42" > "$T/ids" || fail "encode exit $?"
  [ "$("$TOK" decode --model "$T/m.model" -f "$T/ids")" = "the lazy fox 42" ] || fail "round trip: $(cat "$T/ids")"
  "$TOK" train --output "$T/x.model" --vocab-size 100000 "$T/corpus.txt" 2> "$T/err"; [ $? -eq 1 ] || fail "expected exit 1"
  grep -q "Vocabulary size too high" "$T/err" || fail "stderr: $(cat "$T/err")" ;;
matches_spm_encode)
  [ -f "$SPM/botchan.txt" ] || skip "needs $SPM"
  [ -x "$SPM_ENCODE" ] || skip "needs spm_encode"
  # Line for line, empty lines included (sense-tokenize prints an empty line for each).
  tr -d '\r' < "$SPM/botchan.txt" | "$TOK" --model "$SPM/test_model.model" --ids 2> /dev/null > "$T/got"
  # sense-tokenize reads lines without their "\r" (apps strip CRLF), spm_encode keeps it: compare without the "\r" piece.
  "$SPM_ENCODE" --model "$SPM/test_model.model" --output_format=id < <(tr -d '\r' < "$SPM/botchan.txt") > "$T/want"
  diff -q "$T/want" "$T/got" > /dev/null || fail "ids differ from spm_encode: $(diff "$T/want" "$T/got" | head -5)" ;;
help_version)
  "$TOK" --help | grep -q "Usage: sense-tokenize" || fail "help"
  "$TOK" decode --help | grep -q "sense-tokenize decode" || fail "decode help"
  "$TOK" train --help | grep -q "sense-tokenize train" || fail "train help"
  "$TOK" --version | grep -q "^sense-tokenize [0-9]" || fail "version"
  "$TOK" --bogus 2> /dev/null; [ $? -eq 2 ] || fail "bad option should exit 2"
  "$TOK" "text" 2> "$T/err"; [ $? -eq 2 ] || fail "no tokenizer is a usage error: exit 2"
  grep -q "choose a tokenizer" "$T/err" || fail "stderr: $(cat "$T/err")" ;;
one_line_per_input)
  # 5 input lines, 2 failing (empty, invalid UTF-8): 5 output lines, the
  # failing ones empty, their errors on stderr, exit 1 (as spm_encode keeps 5).
  printf 'good film\n\nbad \xff film\nbad\ngood\n' > "$T/in"
  for mode in --ids --pieces; do
    "$TOK" --bundle "$MODELS/tiny_text.pt" $mode -f "$T/in" > "$T/out" 2> "$T/err"
    [ $? -eq 1 ] || fail "$mode: expected exit 1"
    [ "$(wc -l < "$T/out")" -eq 5 ] || fail "$mode: $(wc -l < "$T/out") lines for 5 inputs: $(cat "$T/out")"
    [ -z "$(sed -n 2p "$T/out")" ] && [ -z "$(sed -n 3p "$T/out")" ] || fail "$mode: failed lines not empty: $(cat "$T/out")"
    [ "$(wc -l < "$T/err")" -eq 2 ] && grep -q "in:2: empty line" "$T/err" && grep -q "in:3: invalid UTF-8" "$T/err" \
      || fail "$mode stderr: $(cat "$T/err")"
  done
  [ "$(sed -n 4p "$T/out")" = "[CLS] bad [SEP]" ] || fail "line 4: $(sed -n 4p "$T/out")"
  "$TOK" --bundle "$MODELS/tiny_text.pt" --ids -f "$T/in" > "$T/ids" 2> /dev/null
  [ "$(sed -n 1p "$T/ids")" = "2 4 6 3" ] || fail "line 1: $(cat "$T/ids")"
  # decode likewise: one line per id list
  printf '2 4 6 3\nnope\n2 5\n' | "$TOK" decode --bundle "$MODELS/tiny_text.pt" > "$T/out" 2> /dev/null
  [ $? -eq 1 ] || fail "decode: expected exit 1"
  diff "$T/out" <(printf 'good film\n\nbad\n') > /dev/null || fail "decode lines: $(cat -A "$T/out")" ;;
command_line_order)
  printf 'bad\n' > "$T/f1"
  "$TOK" --bundle "$MODELS/tiny_text.pt" --pieces "good" -f "$T/f1" "film" > "$T/out" || fail "exit $?"
  diff "$T/out" <(printf '[CLS] good [SEP]\n[CLS] bad [SEP]\n[CLS] film [SEP]\n') > /dev/null || fail "order: $(cat "$T/out")"
  printf 'good film\n' | "$TOK" --bundle "$MODELS/tiny_text.pt" --json -f "$T/f1" - "film" > "$T/out" || fail "exit $?"
  jsonl "$T/out" "[r['source'] for r in rows]==['$T/f1:1','stdin:1','arg:2']"
  "$TOK" decode --bundle "$MODELS/tiny_text.pt" -f <(echo "2 5 3") "4" > "$T/out" || fail "decode exit $?"
  diff "$T/out" <(printf 'bad\ngood\n') > /dev/null || fail "decode order: $(cat "$T/out")" ;;
control_characters_escaped)
  # Readable output never carries the input's control bytes to the terminal.
  printf 'good \033[31mfilm\a\n' > "$T/in"
  "$TOK" --bundle "$MODELS/tiny_text.pt" -f "$T/in" > "$T/out" || fail "exit $?"
  ! grep -q $'\033' "$T/out" && ! grep -q $'\a' "$T/out" || fail "raw control bytes in: $(cat -A "$T/out")"
  "$TOK" --bundle "$MODELS/tiny_text.pt" -f "$T/$(printf 'x\033[2J')" > /dev/null 2> "$T/err"; [ $? -eq 1 ] || fail "missing file: exit 1"
  ! grep -q $'\033' "$T/err" && grep -qF 'x\x1b[2J' "$T/err" || fail "stderr not escaped: $(cat -A "$T/err")" ;;
write_error)
  # A full disk is an error exit with one message, not a silent exit 0.
  "$TOK" --bundle "$MODELS/tiny_text.pt" --ids "good film" > /dev/full 2> "$T/err"; [ $? -eq 1 ] || fail "encode: exit $?"
  [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "cannot write to standard output: No space left on device" "$T/err" \
    || fail "stderr: $(cat "$T/err")"
  "$TOK" --bundle "$MODELS/tiny_text.pt" --json "good film" > /dev/full 2> /dev/null; [ $? -eq 1 ] || fail "json: exit $?"
  "$TOK" decode --bundle "$MODELS/tiny_text.pt" "2 4" > /dev/full 2> /dev/null; [ $? -eq 1 ] || fail "decode: exit $?" ;;
usage_errors)
  # Bad values are usage errors (exit 2) found at start-up, named by their flag.
  B="--bundle $MODELS/tiny_text.pt"
  check() { want=$1; shift; "$TOK" "$@" < /dev/null > /dev/null 2> "$T/err"; [ $? -eq 2 ] || fail "$* should exit 2"
            grep -q -- "$want" "$T/err" || fail "$*: message lacks $want: $(cat "$T/err")"; }
  check "--nbest" $B --nbest -1 x
  check "--max-length" $B --max-length -3 x
  check "exclusive" $B --ids --json x
  check "--sample-size" $B --sample-size 0 x
  check "--alpha" $B --alpha -1 x
  check "--nbest and --sample need a SentencePiece" $B --nbest 2 x
  check "--bos/--eos" $B --bos x
  check "--vocab-size" train --output "$T/m.model" --vocab-size 0 "$T/c"
  check "--character-coverage" train --output "$T/m.model" --character-coverage 2 "$T/c"
  check "--type" train --output "$T/m.model" --type foo "$T/c"
  check "--threads" train --output "$T/m.model" --threads -1 "$T/c" ;;
*) fail "unknown scenario" ;;
esac
exit 0
