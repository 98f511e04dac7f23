#!/usr/bin/env bash
# experiments/slurm/sweep.sbatch and submit.sh on a real one-node Slurm started by this test
# (see the start-up below), not a mock: an array sweep plus its merge job gives the
# index.csv of a local unsharded sweep; deleting trials and resubmitting the same array
# reruns only those; submit.sh's array + dependent merge job does the same.
#
#   bazel test //experiments:sweep_slurm_test   (tagged manual; needs root, slurm-wlm, munge)
#
# Exits 77 with "SKIP: ..." (a failure to Bazel, never a pass) when Slurm cannot run here.
# Stops every daemon it started, by pid, on any exit.
set -u
bin=$(realpath "$1")
sbatch_script=$(realpath "$2")
submit="$(dirname "$sbatch_script")/submit.sh"
base=$(realpath "$3")
tmp=$(mktemp -d "${TEST_TMPDIR:-/tmp}/slurm_test.XXXXXX")
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root to run slurmctld, slurmd and munged"
export PATH="$PATH:/usr/sbin:/sbin"
for c in slurmctld slurmd sbatch sinfo squeue munged munge; do
  command -v "$c" > /dev/null || skip "$c not found; install slurm-wlm and munge (apt-get)"
done

# slurmd's spool holds Unix sockets, whose paths must stay under 108 bytes: a short folder.
D=$(mktemp -d /tmp/rlslurm.XXXXXX)
H=$(hostname -s)
mkdir -p "$D"/{spool,state,log}
port=$((20000 + RANDOM % 20000))  # our own ports, not another cluster's 6817/6818
cat > "$D/slurm.conf" << EOF
ClusterName=replearntest
SlurmctldHost=$H
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/ctld.log
SlurmdLogFile=$D/log/d.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$H CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
EOF

munged_pid=""
cleanup() {
  local f
  for f in "$D/slurmd.pid" "$D/slurmctld.pid"; do
    [ -s "$f" ] && kill "$(cat "$f")" 2> /dev/null
  done
  [ -n "$munged_pid" ] && kill "$munged_pid" 2> /dev/null
  sleep 1
  cp -r "$D/log" "$tmp/slurm_logs" 2> /dev/null
  rm -rf "$D"
}
trap cleanup EXIT

# A munged that already answers is someone else's: use it, leave it running.
if ! munge -n < /dev/null 2> /dev/null | unmunge > /dev/null 2>&1; then
  mkdir -p /etc/munge /run/munge /var/log/munge
  [ -f /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2> /dev/null
  chmod 400 /etc/munge/munge.key
  chown -R munge:munge /etc/munge /run/munge /var/log/munge
  runuser -u munge -- munged || skip "munged did not start"
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  munged_pid=$(cat /run/munge/munged.pid 2> /dev/null)
  [ -n "$munged_pid" ] || skip "munged wrote no pid file"
fi
export SLURM_CONF="$D/slurm.conf"
slurmctld -f "$SLURM_CONF" || skip "slurmctld did not start: $(tail -3 "$D/log/ctld.log")"
slurmd -f "$SLURM_CONF" || skip "slurmd did not start: $(tail -3 "$D/log/d.log")"
for _ in $(seq 60); do
  [ "$(sinfo -h -o %T 2> /dev/null)" = "idle" ] && break
  sleep 0.5
done
[ "$(sinfo -h -o %T 2> /dev/null)" = "idle" ] ||
  skip "the node did not become idle: $(sinfo 2>&1 | tail -2); $(tail -3 "$D/log/d.log")"
echo "ok   one-node Slurm up on $H (ports $port, $((port + 1)))"

spec="$tmp/sweep.pbtxt"
{
  cat "$base"
  cat << 'EOF'
sweep {
  axis { path: "architecture.mlp.gain" values: ["0.9", "1.1"] }
  axis { path: "training.learning_rate" values: ["0.02", "0.05"] }
  trials: 2
}
EOF
} > "$spec"
sets=(--set=architecture.mlp.depth=3 --set=architecture.mlp.width=16 --set=training.steps=200
      --set=theory.tracked_layer=1 --set=output.figures=false)
n=8
export REPLEARN="$bin"
cd "$tmp" || exit 1
"$bin" sweep --spec="$spec" "${sets[@]}" --quiet --out="$tmp/ref" > /dev/null || fail "local reference sweep"

# run_array OUT ARRAY [sbatch flags]: the array with --wait; then the merge step with --wait.
run_array() {
  local out="$1" array="$2"
  shift 2
  timeout 120 sbatch --wait --quiet --array="$array" --output="$tmp/log-%A_%a.out" "$@" \
    "$sbatch_script" "$spec" "$out" "${sets[@]}" --quiet ||
    { fail "array $array into $out: sbatch --wait exit $?"; cat "$tmp"/log-*.out; squeue
      tail -5 "$D/log/d.log"; }
  timeout 60 sbatch --wait --quiet --output="$tmp/merge-%j.out" "$sbatch_script" --merge "$out" ||
    { fail "merge of $out: exit $?"; cat "$tmp"/merge-*.out; }
}

run_array "$tmp/arr" 0-3
if cmp -s "$tmp/ref/index.csv" "$tmp/arr/index.csv" &&
    [ "$(ls "$tmp/arr"/index.shard_*_of_4.csv | wc -l)" -eq 4 ]; then
  echo "ok   4-task array + merge job = local sweep"
else
  fail "array index differs from the local sweep's"; diff "$tmp/ref/index.csv" "$tmp/arr/index.csv"
fi

# Lose three trials (as a failed or cancelled task would), resubmit the same array.
rm -f "$tmp/arr/index.csv" "$tmp"/log-*.out
for t in t0001 t0004 t0006; do rm -f "$tmp/arr/$t"_*/summary.json; done
run_array "$tmp/arr" 0-3
reran=$(cat "$tmp"/log-*.out | grep -o "[0-9]* run now" | awk '{ s += $1 } END { print s }')
if [ "$reran" = "3" ] && cmp -s "$tmp/ref/index.csv" "$tmp/arr/index.csv"; then
  echo "ok   resubmitted array reran only the 3 missing trials"
else
  fail "resubmission ran $reran trials (want 3) or the index differs"
fi

# Only task 2 of 4, resubmitted on its own with the shard count kept.
rm -f "$tmp/arr/index.csv" "$tmp/arr/t0002"_*/summary.json "$tmp/arr/t0006"_*/summary.json
run_array "$tmp/arr" 2 --export=ALL,REPLEARN_SHARDS=4
cmp -s "$tmp/ref/index.csv" "$tmp/arr/index.csv" && echo "ok   single task with REPLEARN_SHARDS" ||
  fail "single task with REPLEARN_SHARDS: index differs"

# submit.sh: the array and a dependent merge job.
line=$("$submit" "$spec" "$tmp/sub" 3 -- "${sets[@]}" --quiet) || fail "submit.sh: exit $?"
merge_job=$(sed -n 's/.*merge job \([0-9]*\).*/\1/p' <<< "$line")
for _ in $(seq 240); do  # at most 2 minutes
  [ -z "$(squeue -h 2> /dev/null)" ] && break
  sleep 0.5
done
if [ -n "$merge_job" ] && cmp -s "$tmp/ref/index.csv" "$tmp/sub/index.csv"; then
  echo "ok   submit.sh: $line"
else
  fail "submit.sh: $line"; squeue; cat "$tmp"/slurm-*.out
fi

[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
