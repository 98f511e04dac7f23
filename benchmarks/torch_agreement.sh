#!/usr/bin/env bash
# Agreement of replearn with PyTorch on the default two-point experiment (20 x 500 leaky ReLU,
# lr 0.005, full-batch SGD) started from the same initial weights: PyTorch initialises the
# network and saves it (torch_two_point.py --save-init), replearn loads it
# (architecture.init_npz), both record every step, and the curves h (layer 10), y, w and loss
# are compared step by step. For each quantity it prints the largest |replearn - torch| over
# the steps as a fraction of the largest |value| of the PyTorch curve, and exits 1 if any
# exceeds the tolerance (default 0.01).
#
# Control (unless --no-control): PyTorch also runs in float64 from the same weights, the
# reference trajectory. Its deviation from PyTorch's float32 run is PyTorch's own float32
# rounding error; the curves of this experiment amplify rounding (the two points'
# representations nearly coincide in deep layers, so y and w are small differences of large
# activations), so any float32 implementation that rounds differently from PyTorch deviates
# from it by about as much. The table shows both, and replearn's own distance to float64, for
# all steps (the gated table) and, for information, for the first 50.
#
#   benchmarks/torch_agreement.sh [--steps N] [--seed S] [--tolerance F] [--no-control]
#                                 [--noise-ratio R] [--replearn BIN] [--out DIR]
#
# --noise-ratio R also passes a quantity whose deviation from PyTorch is at most R times
# PyTorch's own float32 error (off by default: the gate is the tolerance alone).
# --seed is PyTorch's initialisation seed (default 1). Without --replearn the script builds
# //experiments:replearn with ${BAZEL:-bazel}. Both sides use one thread; the three runs take
# one to two minutes. The script also runs from Bazel runfiles (an sh_test with
# torch_two_point.py, //experiments:replearn and //experiments:specs as data, passing
# --replearn=$(location //experiments:replearn)).
set -euo pipefail
cd "$(dirname "$0")/.."

steps=1000
seed=1
tolerance=0.01
control=1
noise_ratio=0
bin=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --steps=*) steps=${1#*=}; shift ;;
    --seed) seed=$2; shift 2 ;;
    --seed=*) seed=${1#*=}; shift ;;
    --tolerance) tolerance=$2; shift 2 ;;
    --tolerance=*) tolerance=${1#*=}; shift ;;
    --no-control) control=0; shift ;;
    --noise-ratio) noise_ratio=$2; shift 2 ;;
    --noise-ratio=*) noise_ratio=${1#*=}; shift ;;
    --replearn) bin=$2; shift 2 ;;
    --replearn=*) bin=${1#*=}; shift ;;
    --out) out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    *) echo "torch_agreement.sh: unknown argument $1 (use --steps N --seed S --tolerance F" \
         "--no-control --noise-ratio R --replearn BIN --out DIR)" >&2; exit 1 ;;
  esac
done

python=/usr/bin/python3
if ! "$python" -c "import numpy, torch" 2>/dev/null; then
  echo "torch_agreement.sh: $python with numpy and torch is required (run tools/setup.sh)" >&2
  exit 1
fi
if [ -z "$bin" ]; then
  ${BAZEL:-bazel} build //experiments:replearn >&2
  bin="$(${BAZEL:-bazel} info bazel-bin 2>/dev/null)/experiments/replearn"
fi
if [ -z "$out" ]; then out="${TEST_TMPDIR:-$(mktemp -d)}/torch_agreement"; fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

run_torch() {  # run_torch CURVES [more torch_two_point.py flags]
  local curves=$1
  shift
  OMP_WAIT_POLICY=PASSIVE "$python" benchmarks/torch_two_point.py --steps "$steps" --threads 1 \
    --seed "$seed" --curves "$curves" "$@" >&2
}

echo "torch_agreement: PyTorch run ($steps steps, seed $seed, 1 thread)" >&2
run_torch "$out/torch.csv" --save-init "$out/init.npz"
echo "torch_agreement: replearn run from $out/init.npz" >&2
"$bin" run --spec=experiments/specs/two_point_default.pbtxt --out="$out/replearn" --quiet \
  --set=training.steps="$steps" --set=training.threads=1 \
  --set=architecture.init_npz="$out/init.npz" \
  --set=theory.enabled=false --set=output.figures=false >&2

control_csv=""
if [ "$control" = 1 ]; then
  echo "torch_agreement: control: PyTorch in float64 from the same initial weights" >&2
  run_torch "$out/torch64.csv" --init "$out/init.npz" --dtype float64
  control_csv="$out/torch64.csv"
fi

"$python" - "$out/torch.csv" "$out/replearn/curves.csv" "$steps" "$tolerance" "$control_csv" \
  "$noise_ratio" <<'PY'
import csv
import sys

import numpy as np

torch_path, ours_path, control_path = sys.argv[1], sys.argv[2], sys.argv[5]
steps, tolerance, noise_ratio = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[6])


def load(path):
    curves = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["quantity"], row["layer"])
            curves.setdefault(key, {})[int(row["step"])] = float(row["value"])
    return curves


def series(curves, key, source):
    values = curves.get(key, {})
    if sorted(values) != list(range(steps + 1)):
        sys.exit(f"{source}: {key[0]} {key[1]}: {len(values)} steps recorded; "
                 f"expected steps 0..{steps}")
    return np.array([values[s] for s in range(steps + 1)])


theirs, ours = load(torch_path), load(ours_path)
control = load(control_path) if control_path else None


def deviation(a, reference):
    return np.abs(a - reference).max() / np.abs(reference).max()


def table(last, gated):
    """Rows for steps 0..last; returns whether a gated row failed."""
    print(f"steps 0..{last}: largest deviation as a fraction of the reference curve's largest "
          f"|value|")
    print(f"  {'quantity':<13} {'replearn':>10} {'torch32':>10} {'replearn':>10}   worst step "
          f"of replearn vs torch: torch, replearn")
    print(f"  {'':<13} {'vs torch':>10} {'vs f64':>10} {'vs f64':>10}")
    failed = False
    for quantity, layer in (("h", "10"), ("y", ""), ("w", ""), ("loss", "")):
        key = (quantity, layer)
        t = series(theirs, key, torch_path)[:last + 1]
        r = series(ours, key, ours_path)[:last + 1]
        frac = deviation(r, t)
        ok = frac <= tolerance
        if control:
            c = series(control, key, control_path)[:last + 1]
            torch_error = deviation(t, c)
            ok |= noise_ratio > 0 and frac <= noise_ratio * torch_error
            errors = f"{torch_error:10.3e} {deviation(r, c):10.3e}"
        else:
            errors = f"{'-':>10} {'-':>10}"
        worst = int(np.abs(r - t).argmax())
        failed |= not ok
        name = quantity + (f" (layer {layer})" if layer else "")
        verdict = ("ok" if ok else "FAIL") if gated else ""
        print(f"  {name:<13} {frac:10.3e} {errors}   {worst}: {t[worst]:.6g}, {r[worst]:.6g}"
              f"   {verdict}")
    return failed


if steps > 50:
    table(50, gated=False)  # for information: the first steps alone
failed = table(steps, gated=True)
gate = f"tolerance {tolerance:g}" + (f" or {noise_ratio:g} x torch32 vs f64" if noise_ratio else "")
print(f"{gate}: {'FAIL' if failed else 'PASS'}")
sys.exit(1 if failed else 0)
PY
