#!/usr/bin/env bash
# --threads in every app that takes it: a negative count is a usage error
# (exit 2, naming --threads) found at start-up, and a count above the usable
# cores is clamped with one warning line on stderr.
#   threads_option_test.sh APPS_DIR MODELS_DIR IMAGES_DIR
set -uo pipefail
apps=$1 models=$2 images=$3
fail=0
check() {  # name expected_rc stderr_regex command...
  local name=$1 want=$2 pattern=$3; shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ "$rc" -ne "$want" ] || ! grep -Eq -- "$pattern" <<<"$err"; then
    echo "FAIL $name: exit $rc (expected $want), stderr: $err"; fail=1
  else
    echo "ok   $name"
  fi
}
cores=$(nproc)
for app in sense-classify sense-eval sense-sentiment sense-info; do
  case $app in
    sense-classify) args=(-m "$models/colour3.pt" "$images/red.png") ;;
    sense-eval) args=(-m "$models/colour3.pt" "$images") ;;
    sense-sentiment) args=(-m "$models/tiny_text.pt" "good film") ;;
    sense-info) args=("$models/colour3.pt") ;;
  esac
  check "$app --threads -1" 2 "^$app: --threads must be 0 \(all usable cores\) or a positive count, found -1" \
    "$apps/$app" --threads -1 "${args[@]}"
done
warning="--threads 1000 is more than the $cores usable cores?; using $cores"
check "sense-info --threads 1000" 0 "^sense-info: $warning\$" "$apps/sense-info" --threads 1000 "$models/colour3.pt"
check "sense-sentiment --threads 1000" 0 "^sense-sentiment: $warning\$" \
  "$apps/sense-sentiment" --threads 1000 -m "$models/tiny_text.pt" "good film"
# exactly one warning line, whatever the number of inputs
n=$("$apps/sense-sentiment" --threads 1000 -m "$models/tiny_text.pt" "good" "bad" "film" 2>&1 >/dev/null | grep -c "usable core")
[ "$n" = 1 ] && echo "ok   one warning for 3 inputs" || { echo "FAIL: $n warnings for 3 inputs"; fail=1; }
# the clamped count is what the model runs with
"$apps/sense-info" --json --threads 1000 "$models/colour3.pt" 2>/dev/null | grep -q "\"threads\":$cores[,}]" \
  && echo "ok   sense-info reports $cores threads" || { echo "FAIL: sense-info --json does not report $cores threads"; fail=1; }
exit $fail
