#!/usr/bin/env bash
# Proves the release bundle is a drop-in on a bare system (issue 11): a minimal Debian 12 root
# (debootstrap --variant=minbase, plus python3 for the test's pre-image server, nothing else),
# the bundle installed into it by the steps of deploy/Dockerfile, and inside that root
# cannonball runs op-challenger's exact `run` command line on the shared `oracle` vector; the
# proof it writes must be byte-identical to the reference's. Also checks that `ldd` of the
# installed binary names only libraries inside the bundle or glibc's, and that the .deb
# installs (apt resolving its Depends) in a copy of that root and writes the same proof.
#
# usage: scripts/chroot-test.sh [BUILD_DIR]    (default build-package, the dir package.sh used)
# Needs dist/cannonball-<version>-linux-x86_64.tar.gz (scripts/package.sh), root, debootstrap
# and Debian's archive (CB_DEBIAN_MIRROR, default http://deb.debian.org/debian). Without root,
# debootstrap or ../shared/reference it prints SKIPPED and exits 0. The Debian root is cached
# in BUILD_DIR/chroot-cache (about 250 MB; a rerun takes seconds); delete it to start afresh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$root/build-package}")
mirror=${CB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
vec=$root/../shared/reference/vectors/oracle
tools=$root/../shared/reference/tools
guest=$root/../shared/reference/guests/oracle

skip() {
  echo "chroot-test: SKIPPED: $*"
  exit 0
}

# Every mount point at or below $1, deepest first (/proc/self/mountinfo, field 5).
mounts_under() {
  local d
  d=$(realpath -m "$1")
  awk -v d="$d" '{ m = $5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' \
    /proc/self/mountinfo | sort -r
}
# Unmounts everything at or below $1 (a lazy unmount if a plain one fails) and fails if
# anything is left. Every copy and delete of a root below runs only after this: none may
# cross into a mounted /proc, /sys or /dev (copying /proc/kcore once filled the disk).
unmount_under() {
  local m
  while read -r m; do
    [[ -z $m ]] && continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done < <(mounts_under "$1")
  if [[ -n $(mounts_under "$1") ]]; then
    echo "chroot-test: FAIL: still mounted below $1: $(mounts_under "$1" | tr '\n' ' ')" >&2
    exit 1
  fi
}
if ((EUID != 0)) && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  exec sudo -n bash "$0" "$build"  # as setup.sh does, a non-root CI user with sudo
fi
((EUID == 0)) || skip "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null 2>&1 || skip "debootstrap is not installed"
[[ -d $vec && -f $tools/preimage-server.py ]] || skip "../shared/reference is absent"

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
bundle=$root/dist/cannonball-$version-linux-x86_64.tar.gz
[[ -n $version && -f $bundle ]] || { echo "chroot-test: no bundle: run scripts/package.sh $build first" >&2; exit 1; }

cache=$build/chroot-cache
base=$cache/bookworm-minbase
if [[ ! -f $base/.cb-complete ]]; then
  echo "chroot-test: debootstrap --variant=minbase bookworm (once; cached in $cache)"
  # An interrupted debootstrap may have left /proc, /sys or /dev mounted in its root.
  unmount_under "$cache/root.tmp"
  rm -rf --one-file-system "$cache/root.tmp"
  mkdir -p "$cache"
  # python3: the test's pre-image server only (json/select from its standard library).
  debootstrap --variant=minbase --include=python3 bookworm "$cache/root.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    { unmount_under "$cache/root.tmp"; tail -20 "$cache/debootstrap.log" >&2; echo "chroot-test: debootstrap failed" >&2; exit 1; }
  unmount_under "$cache/root.tmp"
  unmount_under "$base"
  rm -rf --one-file-system "$base"
  mv "$cache/root.tmp" "$base"
  touch "$base/.cb-complete"
fi

# /proc, as every container has it (the dynamic loader resolves the RPATH's $ORIGIN through
# /proc/self/exe); unmounted again however the script ends.
copy=$cache/deb-root
trap 'unmount_under "$base"; unmount_under "$copy"' EXIT
mountpoint -q "$base/proc" || mount -t proc proc "$base/proc"

# A fresh install and work area in the cached root on every run.
rm -rf "$base"/opt/cannonball* "$base/work"
mkdir -p "$base/opt" "$base/work/out/proofs" "$base/work/out/snapshots"
# deploy/Dockerfile, step by step: ADD (which unpacks a local tar) into /opt/, then its RUN lines.
tar -C "$base/opt" -xzf "$bundle"
grep -q '^ADD .*cannonball.*/opt/' "$root/deploy/Dockerfile"
while IFS= read -r line; do
  echo "chroot-test: RUN ${line#RUN }"
  chroot "$base" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -ec "${line#RUN }"
done < <(grep '^RUN ' "$root/deploy/Dockerfile")
bin=/opt/cannonball/bin/cannonball
chroot "$base" /usr/bin/test -x "$bin" || { echo "chroot-test: the Dockerfile steps did not install $bin" >&2; exit 1; }

# ldd inside the root: only the bundle's lib/ and glibc.
ldd_out=$(chroot "$base" /usr/bin/ldd "$bin")
echo "$ldd_out" | sed 's/^/chroot-test: ldd: /'
while read -r soname arrow path _; do
  [[ $arrow == "=>" ]] || continue
  case $path in
    /opt/cannonball*/lib/*) ;;
    *) [[ $soname =~ ^(libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|libanl|libnsl)\.so(\.[0-9]+)*$ ]] ||
         { echo "chroot-test: FAIL: $soname resolves to $path, outside the bundle" >&2; exit 1; } ;;
  esac
done <<<"$ldd_out"

cp "$vec/initial.bin.gz" "$base/work/"
cp "$tools/preimage-server.py" "$guest/preimages.json" "$base/work/"

# op-challenger's command line (op-challenger/game/fault/trace/vm/executor.go), with a proof
# step that reads a pre-image late in the run.
n=888713
status=0
chroot "$base" /usr/bin/env -i PATH=/usr/bin:/bin "$bin" run \
  --input /work/initial.bin.gz --output /work/out/final.bin.gz --meta "" --info-at %10000000 \
  --proof-at "=$n" --proof-fmt /work/out/proofs/%d.json.gz --snapshot-at %1000000000 \
  --snapshot-fmt /work/out/snapshots/%d.bin.gz --stop-at "=$((n + 1))" \
  --debug-info /work/out/debug-info.json -- python3 /work/preimage-server.py /work/preimages.json \
  >"$cache/run.log" 2>&1 || status=$?
if ((status != 0)); then
  cat "$cache/run.log" >&2
  echo "chroot-test: FAIL: cannonball run exited $status inside the root" >&2
  exit 1
fi
if ! gzip -dc "$base/work/out/proofs/$n.json.gz" | cmp - "$vec/proofs/proof-$n.json"; then
  echo "chroot-test: FAIL: proof of step $n differs from the reference's" >&2
  exit 1
fi
[[ -s $base/work/out/final.bin.gz && -s $base/work/out/debug-info.json && -s $base/work/out/snapshots/0.bin.gz ]] ||
  { echo "chroot-test: FAIL: final state, snapshot or debug info missing" >&2; exit 1; }
echo "chroot-test: PASS: proof of step $n byte-identical to the reference's, in a bare Debian 12 root" \
  "($(chroot "$base" "$bin" --version | head -1))"

# The .deb, in a throw-away copy of the root: apt resolves its Depends from Debian's archive
# and the installed /usr/bin/cannonball writes the same proof.
deb=$root/dist/cannonball_${version}_amd64.deb
if [[ ! -f $deb ]]; then
  echo "chroot-test: no $deb: the .deb check is skipped"
  exit 0
fi
# Never copy (or delete) a root with anything mounted in it.
unmount_under "$base"
unmount_under "$copy"
rm -rf --one-file-system "$copy"
cp -a --one-file-system "$base" "$copy"
mountpoint -q "$copy/proc" || mount -t proc proc "$copy/proc"
cp /etc/resolv.conf "$copy/etc/resolv.conf" 2>/dev/null || true
cp "$deb" "$copy/tmp/"
rm -rf "$copy"/opt/cannonball* "$copy"/work/out/proofs/*
if ! chroot "$copy" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive /bin/sh -ec \
  "apt-get update -q && apt-get install -y -q --no-install-recommends /tmp/$(basename "$deb")" >"$cache/apt.log" 2>&1; then
  tail -20 "$cache/apt.log" >&2
  echo "chroot-test: FAIL: apt could not install $(basename "$deb") with its Depends" >&2
  exit 1
fi
chroot "$copy" /usr/bin/env -i PATH=/usr/bin:/bin cannonball run \
  --input /work/initial.bin.gz --output /work/out/final.bin.gz --meta "" --info-at %10000000 \
  --proof-at "=$n" --proof-fmt /work/out/proofs/%d.json.gz --snapshot-at %1000000000 \
  --snapshot-fmt /work/out/snapshots/%d.bin.gz --stop-at "=$((n + 1))" \
  --debug-info /work/out/debug-info.json -- python3 /work/preimage-server.py /work/preimages.json \
  >"$cache/run-deb.log" 2>&1 || { cat "$cache/run-deb.log" >&2; echo "chroot-test: FAIL: the .deb's cannonball failed" >&2; exit 1; }
gzip -dc "$copy/work/out/proofs/$n.json.gz" | cmp - "$vec/proofs/proof-$n.json" ||
  { echo "chroot-test: FAIL: the .deb's proof of step $n differs" >&2; exit 1; }
unmount_under "$copy"
rm -rf --one-file-system "$copy"
echo "chroot-test: PASS: the .deb installs with its Depends ($(dpkg-deb -f "$deb" Depends)) and writes the same proof"
