#!/usr/bin/env bash
# Installs the Debian 12 packages Strata builds, tests and benchmarks with.
# Idempotent: skips apt entirely when everything is already there.
set -euo pipefail

packages=(
  cmake g++ clang ninja-build pkg-config ccache
  libucx-dev libopenmpi-dev openmpi-bin libhwloc-dev
  libfmt-dev libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev libssl-dev libzstd-dev
  libgloo-dev
  iproute2 iputils-ping iperf3 procps psmisc
  python3 python3-matplotlib python3-numpy python3-pytest python3-mpi4py
  pybind11-dev python3-dev python3-torch libtorch-dev python3-pip python3-setuptools python3-wheel
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install packages (run as root or with sudo)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
