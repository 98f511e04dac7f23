#!/usr/bin/env bash
# End-to-end checks of `replearn sweep` and `replearn merge`: a sweep killed with SIGKILL part
# way and rerun ends with every trial present once and index.csv and every trial's files
# identical to an uninterrupted sweep's; shards run as separate processes and merged give
# the same index; bad sweeps exit 1 before anything runs, naming the axis and path.
set -u
bin="$1"
base="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

spec="$tmp/sweep.pbtxt"
{
  cat "$base"
  cat <<'EOF'
sweep {
  axis { path: "architecture.mlp.gain" values: ["0.8", "1.0", "1.2"] }
  axis { path: "training.learning_rate" values: ["0.02", "0.05"] }
  trials: 2
}
EOF
} > "$spec"
# 1000 steps (about 0.1 s a trial) leave time to kill the sweep between trials.
sets=(--set=architecture.mlp.depth=3 --set=architecture.mlp.width=16 --set=training.steps=1000
      --set=theory.tracked_layer=1 --set=output.figures=false)
n=12
sweep() { "$bin" sweep --spec="$spec" "${sets[@]}" --quiet "$@"; }

# same_trials NAME DIR: DIR holds the reference's n trial folders, each once, with identical
# files (summary.json apart from its timings) and an identical index.csv.
same_trials() {
  local name="$1" dir="$2" bad=0 f
  if ! cmp -s "$tmp/ref/index.csv" "$dir/index.csv"; then
    echo "FAIL $name: index.csv differs:"; diff "$tmp/ref/index.csv" "$dir/index.csv" | head
    fails=$((fails + 1)); return
  fi
  [ "$(cd "$dir" && ls -d t*/ | wc -l)" -eq "$n" ] || { fail "$name: not $n trial folders"; return; }
  [ -z "$(cut -d, -f2 "$dir/index.csv" | sort | uniq -d)" ] || { fail "$name: a trial is listed twice"; return; }
  for f in $(cut -d, -f2 "$tmp/ref/index.csv" | tail -n +2); do
    for file in curves.csv fit.csv theory_curves.csv spec.pbtxt; do
      cmp -s "$tmp/ref/$f/$file" "$dir/$f/$file" || { echo "  $f/$file differs"; bad=1; }
    done
    diff -q <(grep -v _seconds "$tmp/ref/$f/summary.json") <(grep -v _seconds "$dir/$f/summary.json") \
      > /dev/null || { echo "  $f/summary.json differs"; bad=1; }
  done
  if [ "$bad" -eq 0 ]; then echo "ok   $name"; else fail "$name: trial files differ"; fi
}

# The uninterrupted reference.
if sweep --out="$tmp/ref" --threads=2 > "$tmp/ref.out" &&
    [ "$(wc -l < "$tmp/ref/index.csv")" -eq $((n + 1)) ] &&
    [ "$(head -1 "$tmp/ref/index.csv")" = "trial,folder,architecture.mlp.gain,training.learning_rate,seed,status,steps,final_loss,eta_h,eta_y,normalised_loss,r2_h,r2_y,r2_w,h_final,h_final_predicted" ] &&
    [ -z "$(awk -F, 'NR > 1 && ($6 != "finished" || $7 != "1000")' "$tmp/ref/index.csv")" ] &&
    grep -q "12 finished, 0 converged, 0 diverged, 0 failed" "$tmp/ref.out"; then
  echo "ok   reference sweep: $(head -1 "$tmp/ref.out")"
else
  fail "reference sweep"; cat "$tmp/ref.out"; cat "$tmp/ref/index.csv"
fi
# Row t0005: gain 1.0, learning rate 0.02, seed index 1.
[ "$(sed -n 7p "$tmp/ref/index.csv" | cut -d, -f1-4)" = "t0005,t0005_gain=1.0_learning_rate=0.02_s1,1.0,0.02" ] ||
  fail "row order: $(sed -n 7p "$tmp/ref/index.csv")"

# Trial folders whose summary.json the previous writer wrote (two-space indent, null for NaN
# and for a missing diverged_step, the seed as a number) are complete for resume and merge.
cp -r "$tmp/ref" "$tmp/v0"
rm "$tmp/v0/index.csv"
python3 - "$tmp"/v0/t*/summary.json <<'PY'
import json, sys
for path in sys.argv[1:]:
    d = json.load(open(path))
    d["seed"] = int(d["seed"])
    d.setdefault("diverged_step", None)
    json.dump(d, open(path, "w"), indent=2)
PY
grep -q '"diverged_step": null' "$tmp/v0/t0000_gain=0.8_learning_rate=0.02_s0/summary.json" ||
  fail "v0 summaries not rewritten"
if "$bin" merge --out="$tmp/v0" > "$tmp/v0.out" && cmp -s "$tmp/ref/index.csv" "$tmp/v0/index.csv" &&
    sweep --out="$tmp/v0" > "$tmp/v0_sweep.out" && grep -q "$n done before, 0 run now" "$tmp/v0_sweep.out" &&
    cmp -s "$tmp/ref/index.csv" "$tmp/v0/index.csv"; then
  echo "ok   summaries of the previous format resume and merge"
else
  fail "previous-format summaries"; cat "$tmp/v0.out" "$tmp/v0_sweep.out"; diff "$tmp/ref/index.csv" "$tmp/v0/index.csv"
fi

# Kill -9 part way, then resume.
"$bin" sweep --spec="$spec" "${sets[@]}" --quiet --out="$tmp/killed" --threads=1 > /dev/null 2>&1 &
pid=$!
for _ in $(seq 3000); do
  [ "$(ls "$tmp"/killed/*/summary.json 2> /dev/null | wc -l)" -ge 2 ] && break
  sleep 0.01
done
kill -9 "$pid"
wait "$pid" 2> /dev/null
done_at_kill=$(ls "$tmp"/killed/*/summary.json 2> /dev/null | wc -l)
if [ "$done_at_kill" -ge 1 ] && [ "$done_at_kill" -lt "$n" ]; then
  echo "ok   killed with $done_at_kill of $n trials done"
else
  fail "kill: $done_at_kill of $n trials done at SIGKILL; the test needs some but not all"
fi
[ ! -e "$tmp/killed/index.csv" ] || fail "kill: a killed sweep left an index.csv"
if sweep --out="$tmp/killed" --threads=2 > "$tmp/resume.out"; then
  grep -q "$done_at_kill done before, $((n - done_at_kill)) run now" "$tmp/resume.out" ||
    { fail "resume did not skip the done trials"; cat "$tmp/resume.out"; }
  same_trials "resume after kill -9" "$tmp/killed"
else
  fail "resume: non-zero exit"; cat "$tmp/resume.out"
fi
sweep --out="$tmp/killed" > "$tmp/again.out" && grep -q "$n done before, 0 run now" "$tmp/again.out" ||
  { fail "rerun of a complete sweep ran trials"; cat "$tmp/again.out"; }

# Two shards as separate processes into separate folders, then merge.
sweep --out="$tmp/s0" --shard=0/2 --threads=1 > "$tmp/s0.out" &
p0=$!
sweep --out="$tmp/s1" --shard=1/2 --threads=1 > "$tmp/s1.out" &
p1=$!
wait "$p0"; r0=$?
wait "$p1"; r1=$?
if [ "$r0" -eq 0 ] && [ "$r1" -eq 0 ] && [ "$(wc -l < "$tmp/s0/index.shard_0_of_2.csv")" -eq 7 ] &&
    [ "$(cut -d, -f1 "$tmp/s1/index.shard_1_of_2.csv" | tr '\n' ' ')" = "trial t0001 t0003 t0005 t0007 t0009 t0011 " ]; then
  echo "ok   two shards"
else
  fail "shards: exits $r0 $r1"; cat "$tmp/s0.out" "$tmp/s1.out"
fi
"$bin" merge --out="$tmp/partial" "$tmp/s0" > "$tmp/partial.out" 2> "$tmp/partial.err"
rc=$?
{ [ "$rc" -eq 4 ] && grep -q "6 are pending" "$tmp/partial.err"; } ||
  { fail "merge of one shard: exit $rc"; cat "$tmp/partial.out" "$tmp/partial.err"; }
if "$bin" merge --out="$tmp/merged" "$tmp/s0" "$tmp/s1" > "$tmp/merge.out"; then
  same_trials "merge of shard folders" "$tmp/merged"
else
  fail "merge: non-zero exit"; cat "$tmp/merge.out"
fi

# Three shards sharing one folder (as Slurm array tasks do), merged in place.
for i in 0 1 2; do
  sweep --out="$tmp/same" --shard=$i/3 --threads=1 > /dev/null &
  pids[$i]=$!
done
for i in 0 1 2; do wait "${pids[$i]}" || fail "shard $i/3: non-zero exit"; done
if "$bin" merge --out="$tmp/same" > "$tmp/same.out"; then
  same_trials "merge of shards sharing a folder" "$tmp/same"
else
  fail "merge in place: non-zero exit"; cat "$tmp/same.out"
fi

# A trial's spec.pbtxt reruns it bit for bit.
t5="$tmp/ref/t0005_gain=1.0_learning_rate=0.02_s1"
if "$bin" run --spec="$t5/spec.pbtxt" --out="$tmp/rerun" --quiet > /dev/null &&
    cmp -s "$t5/curves.csv" "$tmp/rerun/curves.csv" && cmp -s "$t5/fit.csv" "$tmp/rerun/fit.csv"; then
  echo "ok   trial spec reruns identically"
else
  fail "trial spec rerun differs"
fi

# A diverged trial is recorded, the sweep goes on and exits 3.
sweep --out="$tmp/div" '--set=sweep.axis.1.values=[0.05,100]' --set=sweep.trials=1 \
  --set=training.steps=200 > "$tmp/div.out" 2> "$tmp/div.err"
rc=$?
if [ "$rc" -eq 3 ] && [ "$(grep -c ',diverged,' "$tmp/div/index.csv")" -eq 3 ] &&
    [ "$(grep -c ',finished,' "$tmp/div/index.csv")" -eq 3 ]; then
  echo "ok   diverged trials: $(tail -1 "$tmp/div.err")"
else
  fail "diverged: exit $rc"; cat "$tmp/div.out" "$tmp/div.err"
fi

# expect_fail NAME EXPECTED_SUBSTRING ARGS...: exit 1, the substring in stderr, nothing run.
expect_fail() {
  local name="$1" want="$2"
  shift 2
  local err rc
  err=$("$bin" "$@" 2>&1 > /dev/null)
  rc=$?
  if [ "$rc" -ne 1 ]; then
    echo "FAIL $name: exit $rc, expected 1"; echo "$err"; fails=$((fails + 1))
  elif ! grep -qF -- "$want" <<< "$err"; then
    echo "FAIL $name: message lacks '$want':"; echo "$err"; fails=$((fails + 1))
  elif [ -e "$tmp/never" ]; then
    echo "FAIL $name: wrote $tmp/never"; fails=$((fails + 1))
  else
    echo "ok   $name: $(head -1 <<< "$err")"
  fi
}
s=(sweep --spec="$spec" "${sets[@]}" --out="$tmp/never")
expect_fail run_refuses_sweep "replearn sweep --spec=$spec" run --spec="$spec"
expect_fail bad_path 'sweep.axis.0 (architecture.mlp.gainz): no field "gainz"' \
  "${s[@]}" --set=sweep.axis.0.path=architecture.mlp.gainz
expect_fail non_numeric 'sweep.axis.1 (training.learning_rate): value "fast" is not a number' \
  "${s[@]}" '--set=sweep.axis.1.values=[0.02,fast]'
expect_fail empty_axis 'sweep.axis.0 (architecture.mlp.gain): no values' \
  "${s[@]}" '--set=sweep.axis.0.values=[]'
expect_fail trials_zero 'sweep.trials = 0; must be >= 1' "${s[@]}" --set=sweep.trials=0
expect_fail trial_build_error \
  't0004 (architecture.mlp.depth=0, training.learning_rate=0.02): architecture.mlp.depth = 0; must be >= 1' \
  "${s[@]}" --set=sweep.axis.0.path=architecture.mlp.depth '--set=sweep.axis.0.values=[3,0]'
expect_fail no_sweep "sweep: missing" sweep --spec="$base" --out="$tmp/never"
expect_fail bad_shard '--shard = "2/2"; expected i/N' "${s[@]}" --shard=2/2
expect_fail bad_threads '--threads = "-1"' "${s[@]}" --threads=-1
expect_fail different_sweep "holds a different sweep" \
  sweep --spec="$spec" "${sets[@]}" --out="$tmp/ref" --set=training.steps=300
expect_fail merge_not_a_sweep "sweep.pbtxt: not found" merge --out="$tmp/never"
expect_fail merge_needs_out "--out=DIR is required" merge "$tmp/s0"

[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
