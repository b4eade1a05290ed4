#!/usr/bin/env bash
# Cross-builds cannonball for AArch64 (issue 14): installs (idempotently, through Debian
# multiarch) the aarch64 cross compiler and the arm64 -dev packages the build links against,
# then configures build-aarch64/ with cmake/aarch64-toolchain.cmake and builds `cannonball`
# and the unit-test binary `cb_tests`. Run the results with
#   qemu-aarch64 -L /usr/aarch64-linux-gnu build-aarch64/cannonball ...
# (scripts/test.sh's AArch64 stage does). Extra arguments are ninja targets (default:
# cannonball cb_tests). CB_A64_JOBS sets ninja's -j (default: nproc); CB_A64_CMAKE_ARGS adds cmake
# options (e.g. -DCB_JIT=OFF).
# On a native AArch64 host this script is not needed: the normal README commands build the
# AArch64 JIT directly (CMake picks the backend from CMAKE_SYSTEM_PROCESSOR).
set -euo pipefail
cd "$(dirname "$0")/.."

# The arm64 versions of scripts/setup.sh's libraries (robin-map, nlohmann-json and CLI11
# are header-only: the host's copies serve), the cross toolchain, and qemu-user to run it.
# ISA-L is not among them: libisal2/libisal-dev are not Multi-Arch in bookworm, so installing
# the arm64 ones would remove the host's; they are unpacked into a private sysroot below.
packages=(
  g++-aarch64-linux-gnu qemu-user
  libasmjit-dev:arm64 libmimalloc-dev:arm64 libtbb-dev:arm64 libcrypto++-dev:arm64
  libzstd-dev:arm64 zlib1g-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64
  robin-map-dev nlohmann-json3-dev libcli11-dev
)
missing=()
while IFS= read -r p; do missing+=("$p"); done < <(
  for p in "${packages[@]}"; do
    s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $s == "install ok installed" ]] || echo "$p"
  done)
if ((${#missing[@]})); then
  as_root=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || { echo "build-aarch64.sh: must run as root to install: ${missing[*]}" >&2; exit 1; }
    as_root=(sudo)
  fi
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    "${as_root[@]}" dpkg --add-architecture arm64
  fi
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# ISA-L for arm64: downloaded (apt-get download, no install) and unpacked into
# build-aarch64/sysroot; its .pc file is pointed there. The binaries find it through their
# build-tree RPATH.
sysroot=$PWD/build-aarch64/sysroot
if [[ ! -e $sysroot/usr/lib/aarch64-linux-gnu/pkgconfig/libisal.pc ]]; then
  mkdir -p build-aarch64/debs "$sysroot"
  isal_version=$(dpkg-query -W -f='${Version}' libisal2 2>/dev/null || apt-cache show libisal2 | sed -n 's/^Version: //p' | head -1)
  (cd build-aarch64/debs && apt-get download "libisal2:arm64=$isal_version" "libisal-dev:arm64=$isal_version")
  for deb in build-aarch64/debs/libisal*_arm64.deb; do dpkg-deb -x "$deb" "$sysroot"; done
  sed -i "s|^prefix=.*|prefix=$sysroot/usr|" "$sysroot/usr/lib/aarch64-linux-gnu/pkgconfig/libisal.pc"
fi

targets=("$@")
((${#targets[@]})) || targets=(cannonball cb_tests)
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CB_A64_SYSROOT=$sysroot cmake -S . -B build-aarch64 -G Ninja -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-toolchain.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DCB_TESTS=ON -DCB_BENCH=OFF -DCB_WERROR=ON "${launcher[@]}" ${CB_A64_CMAKE_ARGS:-} >/dev/null
ninja -C build-aarch64 -j "${CB_A64_JOBS:-$(nproc)}" "${targets[@]}"
