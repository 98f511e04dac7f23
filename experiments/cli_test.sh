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
expect_fail unknown_architecture "registered architectures: [cnn1d, convnet, mlp, resnet]" run --spec="$tmp/arch.pbtxt"

# Architectures whose layers cannot fit together are rejected before training.
sed 's/mlp {[^}]*}/cnn1d { width: 60 kernel: 11 depth: 10 }/' "$spec" > "$tmp/cnn.pbtxt"
expect_fail cnn_kernel_too_large "architecture.cnn1d.kernel = 11 with depth 10 and width 60" \
  run --spec="$tmp/cnn.pbtxt"
sed 's/mlp {[^}]*}/convnet { height: 4 width: 4 channels: [2, 2, 2] }/' "$spec" > "$tmp/conv.pbtxt"
expect_fail convnet_input_mismatch "input_channels * height * width = 1 * 4 * 4 = 16, but the dataset's input_dim = 1" \
  run --spec="$tmp/conv.pbtxt"
expect_fail convnet_pools_to_zero "block 2 would pool its 1 x 1 output" \
  run --spec="$tmp/conv.pbtxt" --set=dataset.two_point.input_dim=16

# Corrupt or missing data files name the file and what was wrong.
mkdir -p "$tmp/idx"
printf 'garbagegarbagegarbage' > "$tmp/idx/train-images-idx3-ubyte"
printf 'garbage!' > "$tmp/idx/train-labels-idx1-ubyte"
sed '/^dataset/ s|two_point {[^}]*}|mnist { dir: "'"$tmp"'/idx" }|' "$spec" > "$tmp/mnist.pbtxt"
expect_fail idx_wrong_magic "$tmp/idx/train-images-idx3-ubyte: magic number = 0x67617262; expected 0x00000803" \
  run --spec="$tmp/mnist.pbtxt"
expect_fail mnist_missing_dir "dataset.mnist.dir = $tmp/no_such_dir" \
  run --spec="$tmp/mnist.pbtxt" --set=dataset.mnist.dir="$tmp/no_such_dir"

expect_fail bad_set_path "training.learnin_rate" run --spec="$spec" --set=training.learnin_rate=0.1
expect_fail missing_spec "/no/such.pbtxt" run --spec=/no/such.pbtxt
expect_fail unknown_command "unknown command" frobnicate
expect_fail no_command "usage: replearn <command>"
expect_fail spec_required "--spec=FILE is required" run --out="$tmp/never"
expect_fail unknown_flag "Unknown command line flag 'spce'" run --spce="$spec"
expect_fail flag_of_another_command "--threads is not a flag of replearn run" \
  run --spec="$spec" --threads=2
expect_fail stray_argument 'unexpected argument "extra"' run --spec="$spec" extra

# help lists every flag of every command with its meaning, on stdout, exit 0.
for form in help --help "run --help"; do
  if ! "$bin" $form > "$tmp/help.out" 2> "$tmp/help.err"; then
    echo "FAIL help ($form): non-zero exit"; fails=$((fails + 1)); continue
  fi
  for flag in spec out set quiet threads shard curves dx2 dy2 layers tracked_layer alternatives; do
    grep -qE -- "^  --$flag +[a-z]" "$tmp/help.out" ||
      { echo "FAIL help ($form): --$flag not described"; fails=$((fails + 1)); }
  done
  for command in run sweep merge fit; do
    grep -q "^  $command " "$tmp/help.out" ||
      { echo "FAIL help ($form): command $command missing"; fails=$((fails + 1)); }
  done
done
echo "ok   help"

# Flags in any order, --set repeated (a value with commas stays one value), --flag value.
out="$tmp/run"
if "$bin" --quiet run --spec "$spec" --set=training.steps=3 --out="$out" \
    --set=architecture.mlp.width=8 '--set=theory.layers=[0,10]' > "$tmp/stdout"; then
  for f in spec.pbtxt curves.csv summary.json; do
    [ -s "$out/$f" ] || { echo "FAIL small_run: $f missing"; fails=$((fails + 1)); }
  done
  grep -q "two_point: finished" "$tmp/stdout" || { echo "FAIL small_run: no summary printed"; fails=$((fails + 1)); }
  grep -q "steps: 3" "$out/spec.pbtxt" && grep -q "width: 8" "$out/spec.pbtxt" &&
    grep -q "layers: 10" "$out/spec.pbtxt" ||
    { echo "FAIL small_run: --set values not all applied"; fails=$((fails + 1)); }
  # summary.json is plain JSON for python.
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["status"] == "finished" and d["steps"] == 3, d' \
    "$out/summary.json" || { echo "FAIL small_run: summary.json"; fails=$((fails + 1)); }
  echo "ok   small_run"
else
  echo "FAIL small_run: non-zero exit"; fails=$((fails + 1))
fi

"$bin" run --spec="$spec" --out="$tmp/div" --quiet --set=training.steps=200 \
  --set=architecture.mlp.width=8 --set=training.learning_rate=100 \
  --set=architecture.mlp.gain=3 > /dev/null 2> "$tmp/div.err"
rc=$?
if [ "$rc" -eq 3 ] && grep -q "diverged at step" "$tmp/div.err" &&
    grep -q '"status": "diverged"' "$tmp/div/summary.json" &&
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert "final_loss" not in d and d["diverged_step"] >= 1, d' \
      "$tmp/div/summary.json"; then
  echo "ok   diverged: $(cat "$tmp/div.err")"
else
  echo "FAIL diverged: exit $rc"; cat "$tmp/div.err"; fails=$((fails + 1))
fi

# replearn fit on the small run's curves, then on broken copies of them.
curves="$out/curves.csv"
if "$bin" fit --curves="$curves" --dx2=1 --dy2=0.5 --out="$tmp/fit" --layers=0,10 > "$tmp/fit.out" &&
    [ "$(head -1 "$tmp/fit/fit.csv")" = "layer,eta_h,eta_y,eta_ybar,sse,normalised_loss,r2_h,r2_y,r2_w,h_final_predicted,h_final_measured" ] &&
    [ "$(wc -l < "$tmp/fit/fit.csv")" -eq 3 ] && [ -s "$tmp/fit/theory_curves.csv" ]; then
  echo "ok   fit"
else
  echo "FAIL fit"; cat "$tmp/fit.out"; fails=$((fails + 1))
fi
grep -v ',w,' "$curves" > "$tmp/no_w.csv"
expect_fail fit_missing_quantity "no_w.csv: no rows for quantity w" \
  fit --curves="$tmp/no_w.csv" --dx2=1 --dy2=0.5 --out="$tmp/f1"
awk -F, 'NR == 5 { print $1 "," $2 "," $3 ",abc"; next } { print }' "$curves" > "$tmp/nan.csv"
expect_fail fit_non_numeric "nan.csv:5:" fit --curves="$tmp/nan.csv" --dx2=1 --dy2=0.5 --out="$tmp/f2"
awk -F, '$1 == 2 && $2 == 10 && $3 == "h" { print "2,10,h,0"; next } { print }' "$curves" > "$tmp/h0.csv"
expect_fail fit_h_not_positive "h0.csv:" fit --curves="$tmp/h0.csv" --dx2=1 --dy2=0.5 --out="$tmp/f3" --layers=10
awk -F, 'NR == 1 || $1 < 2' "$curves" > "$tmp/short.csv"
expect_fail fit_too_few_steps "a fit needs at least 3" fit --curves="$tmp/short.csv" --dx2=1 --dy2=0.5 --out="$tmp/f4"
expect_fail fit_unknown_layer "layer 25 has no h rows" fit --curves="$curves" --dx2=1 --dy2=0.5 --out="$tmp/f5" --layers=25
expect_fail fit_bad_dx2 "Illegal value 'zero' specified for flag 'dx2'" \
  fit --curves="$curves" --dx2=zero --dy2=0.5 --out="$tmp/f6"
expect_fail fit_missing_dy2 "--curves, --dx2, --dy2 and --out are required" \
  fit --curves="$curves" --dx2=1 --out="$tmp/f8"
expect_fail fit_bad_layers '--layers: "x" is not a layer index' \
  fit --curves="$curves" --dx2=1 --dy2=0.5 --out="$tmp/f9" --layers=0,x
expect_fail fit_missing_file "/no/curves.csv" fit --curves=/no/curves.csv --dx2=1 --dy2=0.5 --out="$tmp/f7"

[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
