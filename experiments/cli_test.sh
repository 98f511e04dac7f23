#!/usr/bin/env bash
# End-to-end checks of the replearn binary: bad input exits non-zero with a message naming
# the file and line or the field path; a small run writes its folder; divergence exits 3.
set -u
bin="$1"
spec="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fails=0

# expect_fail NAME EXPECTED_SUBSTRING ARGS...: non-zero exit and the substring in stderr.
expect_fail() {
  local name="$1" want="$2"
  shift 2
  local err rc
  err=$("$bin" "$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "FAIL $name: exit 0, expected non-zero"; fails=$((fails + 1))
  elif ! grep -qF -- "$want" <<<"$err"; then
    echo "FAIL $name: message lacks '$want':"; echo "$err"; fails=$((fails + 1))
  else
    echo "ok   $name: $(head -1 <<<"$err")"
  fi
}

printf 'name: "x"\ntraining { learning_rate: 0.1 \n' > "$tmp/syntax.pbtxt"
expect_fail syntax_error "syntax.pbtxt:3:" run --spec="$tmp/syntax.pbtxt"

printf 'name: "x"\ntraining {\n  steps: 3\n  epochz: 4\n}\n' > "$tmp/unknown.pbtxt"
expect_fail unknown_field "unknown.pbtxt:4:" run --spec="$tmp/unknown.pbtxt"

sed 's/learning_rate: 0.005/learning_rate: -0.1/' "$spec" > "$tmp/neg.pbtxt"
expect_fail negative_lr "training.learning_rate = -0.1; must be > 0" run --spec="$tmp/neg.pbtxt"

expect_fail depth_zero "architecture.mlp.depth = 0" run --spec="$spec" --set=architecture.mlp.depth=0

sed 's/mlp {/transformer {/' "$spec" > "$tmp/arch.pbtxt"
expect_fail unknown_architecture "registered architectures: [mlp" run --spec="$tmp/arch.pbtxt"

expect_fail bad_set_path "training.learnin_rate" run --spec="$spec" --set=training.learnin_rate=0.1
expect_fail missing_spec "/no/such.pbtxt" run --spec=/no/such.pbtxt
expect_fail unknown_command "unknown command" frobnicate

out="$tmp/run"
if "$bin" run --spec="$spec" --out="$out" --quiet --set=training.steps=3 \
    --set=architecture.mlp.width=8 > "$tmp/stdout"; then
  for f in spec.pbtxt curves.csv summary.json; do
    [ -s "$out/$f" ] || { echo "FAIL small_run: $f missing"; fails=$((fails + 1)); }
  done
  grep -q "finished" "$tmp/stdout" || { echo "FAIL small_run: no summary printed"; fails=$((fails + 1)); }
  echo "ok   small_run"
else
  echo "FAIL small_run: non-zero exit"; fails=$((fails + 1))
fi

"$bin" run --spec="$spec" --out="$tmp/div" --quiet --set=training.steps=200 \
  --set=architecture.mlp.width=8 --set=training.learning_rate=100 \
  --set=architecture.mlp.gain=3 > /dev/null 2> "$tmp/div.err"
rc=$?
if [ "$rc" -eq 3 ] && grep -q "diverged at step" "$tmp/div.err" &&
    grep -q '"status": "diverged"' "$tmp/div/summary.json"; then
  echo "ok   diverged: $(cat "$tmp/div.err")"
else
  echo "FAIL diverged: exit $rc"; cat "$tmp/div.err"; fails=$((fails + 1))
fi

[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
