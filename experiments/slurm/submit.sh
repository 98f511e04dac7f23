#!/usr/bin/env bash
# Submits a replearn sweep as a Slurm job array of SHARDS tasks plus a merge job that runs
# after all of them (whatever their exit status) and writes OUT/index.csv.
#
#   experiments/slurm/submit.sh SPEC OUT SHARDS [sbatch flags --] [replearn sweep flags...]
#   experiments/slurm/submit.sh specs/x.pbtxt /shared/runs/x 16 --cpus-per-task=4 -- --set=training.steps=3000
#
# Rerunning the same command resumes: complete trials are skipped. Prints both job ids.
set -eu
[ $# -ge 3 ] || { echo "usage: submit.sh SPEC OUT SHARDS [sbatch flags --] [replearn sweep flags...]" >&2; exit 1; }
spec="$1"; out="$2"; shards="$3"; shift 3
[ "$shards" -ge 1 ] 2> /dev/null || { echo "submit.sh: SHARDS = \"$shards\"; must be an integer >= 1" >&2; exit 1; }
sbatch_flags=()
if [[ " $* " == *" -- "* ]]; then
  while [ "$1" != "--" ]; do sbatch_flags+=("$1"); shift; done
  shift
fi
script="$(cd "$(dirname "$0")" && pwd)/sweep.sbatch"
array=$(sbatch --parsable "${sbatch_flags[@]}" --array=0-$((shards - 1)) "$script" "$spec" "$out" "$@")
array="${array%%;*}"
merge=$(sbatch --parsable --dependency=afterany:"$array" --job-name=replearn-merge \
  --output=slurm-replearn-merge-%j.out "$script" --merge "$out")
echo "array job $array ($shards tasks), merge job ${merge%%;*}: $out/index.csv"
