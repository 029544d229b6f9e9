#!/usr/bin/env bash
# Never silently wrong (issue 16): the stress checkpoint with GPT-2's +-3,000
# massive activations passes `stats --check`; one beyond the fixed-point
# format's ranges is refused by `stats --check` and by `serve` at load, with
# a message naming the layer and the quantity. Needs numpy for
# scripts/make_stress_model.py (scripts/deps.sh installs python3-numpy).
# Usage: test_range_check.sh PATH/TO/cryptogen SOURCE_DIR
set -uo pipefail
bin=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
py=python3
$py -c 'import numpy' 2> /dev/null || py=/usr/bin/python3
$py -c 'import numpy' 2> /dev/null || { echo "FAIL: no numpy (run scripts/deps.sh)"; exit 1; }

$py "$src/scripts/make_stress_model.py" --src "$src/models/default" --out "$tmp/stress" > /dev/null ||
    { echo "FAIL: make_stress_model"; exit 1; }
$py "$src/scripts/make_stress_model.py" --src "$src/models/default" --out "$tmp/beyond" --value 30000 \
    > /dev/null || { echo "FAIL: make_stress_model --value 30000"; exit 1; }

"$bin" stats --check --model "$tmp/stress" > "$tmp/ok.json" 2> "$tmp/ok.err" ||
    fail "stats --check on the +-3,000 stress model: $(cat "$tmp/ok.err")"
grep -q '"check": "ok"' "$tmp/ok.json" || fail "stats --check: no \"check\": \"ok\""
grep -q '"layer": 2, "quantity": "LayerNorm 1 input |x - mean|", "observed": 3000' "$tmp/ok.json" ||
    fail "stats --check: the outlier of 3,000 at layer 2 is not in the report"

"$bin" stats --check --model "$tmp/beyond" > "$tmp/no.json" 2> "$tmp/no.err"
[ $? -eq 1 ] || fail "stats --check on the model beyond the ranges did not exit 1"
grep -q 'layer [01]: MLP output' "$tmp/no.err" || fail "stats --check: message lacks the layer: $(cat "$tmp/no.err")"

timeout 600 "$bin" serve --model "$tmp/beyond" --listen 127.0.0.1:0 --insecure-plaintext \
    > "$tmp/serve.out" 2> "$tmp/serve.err"
rc=$?
[ $rc -eq 1 ] || fail "serve of the model beyond the ranges: exit $rc, not 1"
grep -q 'cryptogen serve: layer [01]: MLP output |y| (c_proj) reaches' "$tmp/serve.err" ||
    fail "serve: refusal lacks the layer and quantity: $(cat "$tmp/serve.err")"

# one MLP writing +-2,990 at once: serve picks weight fraction 11 and says so
$py "$src/scripts/make_stress_model.py" --src "$src/models/default" --out "$tmp/onestep" --steps 1 \
    > /dev/null || fail "make_stress_model --steps 1"
"$bin" stats --check --model "$tmp/onestep" > "$tmp/w11.json" 2> "$tmp/w11.err" ||
    fail "stats --check on the one-step model: $(cat "$tmp/w11.err")"
grep -q '"weight_frac": 11' "$tmp/w11.json" || fail "stats --check: weight_frac 11 not chosen"
timeout 600 "$bin" serve --model "$tmp/onestep" --listen 127.0.0.1:0 --insecure-plaintext \
    --weights-memory 0 > /dev/null 2> "$tmp/w11serve.err" &
pid=$!
# the load-time range check runs before the port opens: wait as long as it
# takes (an instrumented build on a loaded machine is slow), while serve lives
for _ in $(seq 1 2000); do
    grep -q ' on port ' "$tmp/w11serve.err" && break
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.3
done
kill "$pid" 2> /dev/null
wait "$pid" 2> /dev/null
grep -q 'serving with weight fraction 11' "$tmp/w11serve.err" ||
    fail "serve: no log of weight fraction 11: $(cat "$tmp/w11serve.err")"

# a calibration file of one's own, and a missing one
printf 'Once upon a time there was a cat.\n' > "$tmp/calib.txt"
"$bin" stats --check --model "$tmp/stress" --calibration "$tmp/calib.txt" > /dev/null 2>&1 ||
    fail "stats --check --calibration FILE"
"$bin" stats --check --model "$tmp/stress" --calibration "$tmp/none.txt" > /dev/null 2>&1 &&
    fail "stats --check with a missing calibration file succeeded"

[ $failures -eq 0 ] && echo "all range-check CLI tests passed"
exit $((failures > 0))
