#!/usr/bin/env bash
# Installs every Debian package replearn needs to build, test, benchmark and plot.
# Idempotent and non-interactive; the only place the project installs anything.
#   tools/setup.sh            # as root (or with sudo available)
set -euo pipefail

packages=(
  # build
  bazel-bootstrap g++ pkg-config protobuf-compiler
  # C++ libraries (used as new_local_repository over /usr)
  libdnnl-dev libeigen3-dev libabsl-dev libprotobuf-dev
  libgtest-dev libgmock-dev libbenchmark-dev libceres-dev libgoogle-glog-dev libgflags-dev libboost-dev zlib1g-dev
  # figures
  gnuplot-nox
  # PyTorch side of benchmarks/compare.sh and the numpy interop tests
  python3 python3-numpy python3-torch libopenblas0-pthread
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
