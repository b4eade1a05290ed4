#!/usr/bin/env bash
# Installs every build and test dependency of cannonball on Debian 12 (bookworm).
#
# Idempotent: when every package is already installed (checked with dpkg-query) it does not
# touch apt at all, so a repeated run takes well under a second. Run it as root (or as a user
# with sudo) on a fresh machine; the only network it needs is Debian's archive.
set -euo pipefail

packages=(
  # Toolchain.
  build-essential cmake ninja-build pkg-config git python3
  # Libraries the VM, JIT, CLI and tests link against.
  libasmjit-dev libmimalloc-dev libtbb-dev robin-map-dev libcrypto++-dev nlohmann-json3-dev
  libcli11-dev libzstd-dev zlib1g-dev libisal-dev libgtest-dev libgmock-dev libbenchmark-dev
  # Cross toolchain to rebuild the bundled guests (tests/guests/build.sh).
  gcc-mips64-linux-gnuabi64 binutils-mips64-linux-gnuabi64
  # rsvg-convert, for the SVG -> PNG check of the benchmark plots.
  librsvg2-bin
  # /usr/bin/time -v (wall time and peak RSS of whole processes), for bench/scale.sh.
  time
  # libFuzzer harnesses (optional build) and the formatter for .clang-format.
  clang clang-format
  # bench/vs_qemu.sh: QEMU user-mode (qemu-mips64) as the baseline, GNU time to measure it.
  qemu-user time
  # A one-node Slurm cluster for the sharded-batch test (scripts/slurm/test_slurm.sh).
  slurm-wlm munge
  # The release bundle's test in a minimal Debian root (scripts/chroot-test.sh).
  debootstrap
)

# Prints the packages of "${packages[@]}" that are not fully installed, one per line.
missing_packages() {
  local -A installed=()
  local name status
  # dpkg-query exits non-zero when it knows nothing of a package (a fresh machine); that only
  # means "missing", so its status and stderr are ignored.
  while IFS=$'\t' read -r name status; do
    [[ $status == "install ok installed" ]] && installed[$name]=1
  done < <(dpkg-query -W -f='${Package}\t${Status}\n' "${packages[@]}" 2>/dev/null || true)
  local p
  for p in "${packages[@]}"; do
    [[ -n ${installed[$p]:-} ]] || echo "$p"
  done
}

mapfile -t missing < <(missing_packages)
if ((${#missing[@]} == 0)); then
  echo "setup.sh: nothing installed, all ${#packages[@]} packages already present"
  exit 0
fi

as_root=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "setup.sh: must run as root to install: ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists; refreshing them is cheap compared to the install.
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"

mapfile -t still_missing < <(missing_packages)
if ((${#still_missing[@]} != 0)); then
  echo "setup.sh: failed to install: ${still_missing[*]}" >&2
  exit 1
fi
echo "setup.sh: installed ${#missing[@]} packages: ${missing[*]}"
