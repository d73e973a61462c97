#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs what is missing (Debian packages, a Python venv
# for the cross-checks), configures and builds with the release preset, then runs the demo or the tests.
#   bash scripts/run.sh demo     set up, build, run the demo
#   bash scripts/run.sh test     set up, build, run the whole test suite (ctest; label `interop` excluded)
#   bash scripts/run.sh setup    set up and build only
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:-demo}

packages=(build-essential cmake git pkg-config python3 python3-venv
  libboost-dev libhwy-dev catch2 libbenchmark-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libopenblas-dev libdnnl-dev zlib1g-dev dataset-fashion-mnist)

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "==> installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

make_venv() {
  # The cross-check packages (ml_dtypes, numpy), pinned in tests/requirements.txt.
  local stamp=.venv/.requirements
  if [ -x .venv/bin/python ] && cmp -s tests/requirements.txt "$stamp"; then return; fi
  echo "==> creating the Python venv .venv (tests/requirements.txt)"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
  cp tests/requirements.txt "$stamp"
}

build() {
  echo "==> configuring and building (release preset, -j2)"
  cmake --preset release >/dev/null
  cmake --build --preset release
}

install_packages
make_venv
build

case "$action" in
  setup) ;;
  demo) bash scripts/demo.sh ;;
  test) ctest --preset release --label-exclude interop ;;
  *) echo "usage: bash scripts/run.sh demo|test|setup" >&2; exit 2 ;;
esac
