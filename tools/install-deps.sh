#!/usr/bin/env bash
# Description: installs what iomodels needs from Debian bookworm's archive, and
# only what is missing. Uses sudo only when not root.
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config git
  libbenchmark-dev libspdlog-dev nlohmann-json3-dev catch2 liburing-dev libcli11-dev
  python3 python3-matplotlib python3-uvloop nodejs libnats-dev nats-server)
# libnats-dev: the NATS client the binary links; nats-server: the broker
# `iomodels chain` starts for its queue mode. python3-uvloop and nodejs: the
# example clients of examples/ that `run --exec` measures beside the models.
# Extra tools for the test suite (strace for syscall cross-checks, clang for the fuzzer,
# fio and sockperf for `iomodels calibrate`, file for cpack's dependency scan,
# chromium to render report.html headless).
if [[ "${1:-}" == "--tests" ]]; then
  packages+=(strace clang libclang-rt-14-dev iproute2 fio sockperf file chromium)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
echo "installing: ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
