#!/usr/bin/env bash
# Side-by-side speed of replearn and PyTorch on the default two-point experiment
# (20 x 500 leaky ReLU, batch 2, SGD, every layer probed every step), following
# docs/benchmarking.md: same network, data, lr, probes and thread count; runs interleaved;
# medians with min-max over repeats.
#
#   benchmarks/compare.sh [--steps N] [--repeats R] [--threads T]
# Prints steps/s for each and the ratio replearn / torch.
set -euo pipefail
cd "$(dirname "$0")/.."

steps=1000
repeats=5
threads=1
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --steps=*) steps=${1#*=}; shift ;;
    --repeats) repeats=$2; shift 2 ;;
    --repeats=*) repeats=${1#*=}; shift ;;
    --threads) threads=$2; shift 2 ;;
    --threads=*) threads=${1#*=}; shift ;;
    *) echo "compare.sh: unknown argument $1 (use --steps N --repeats R --threads T)" >&2; exit 1 ;;
  esac
done

bazel build -c opt //experiments:replearn >/dev/null 2>&1 || bazel build -c opt //experiments:replearn
bin="$(bazel info -c opt bazel-bin 2>/dev/null)/experiments/replearn"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

ours=()
theirs=()
for r in $(seq 1 "$repeats"); do
  "$bin" run --spec=experiments/specs/two_point_default.pbtxt --out="$out/run" --quiet \
    --set=training.steps="$steps" --set=training.threads="$threads" >/dev/null
  secs=$(sed -n 's/.*"train_seconds": \([0-9.e+-]*\).*/\1/p' "$out/run/summary.json")
  ours+=("$(awk -v s="$steps" -v t="$secs" 'BEGIN { printf "%.2f", s / t }')")
  line=$(OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 benchmarks/torch_two_point.py \
    --steps "$steps" --threads "$threads")
  theirs+=("$(echo "$line" | sed -n 's/.*steps_per_second=\([0-9.]*\).*/\1/p')")
  echo "repeat $r: replearn ${ours[-1]} steps/s, torch ${theirs[-1]} steps/s" >&2
done

stats() {  # median min max of the arguments
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.2f %.2f %.2f", m, v[1], v[NR] }'
}
read -r om omin omax <<<"$(stats "${ours[@]}")"
read -r tm tmin tmax <<<"$(stats "${theirs[@]}")"
echo "steps=$steps repeats=$repeats threads=$threads (default 20 x 500 two-point net, all-layer probes)"
echo "replearn: $om steps/s (min $omin, max $omax); $(awk -v v="$om" 'BEGIN { printf "%.3f", 1000 / v }') ms/step"
echo "torch:    $tm steps/s (min $tmin, max $tmax); $(awk -v v="$tm" 'BEGIN { printf "%.3f", 1000 / v }') ms/step"
echo "ratio replearn/torch (medians): $(awk -v a="$om" -v b="$tm" 'BEGIN { printf "%.2f", a / b }')x"
