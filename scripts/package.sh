#!/usr/bin/env bash
# Builds the release bundle and the .deb (issue 11):
#   dist/cannonball-<version>-linux-x86_64.tar.gz   bin/cannonball + lib/ (every library it
#       needs that is not glibc's), runs on any x86-64 glibc Linux at least as old as Debian 12
#       with nothing else installed (scripts/chroot-test.sh proves it in a minimal Debian root)
#   dist/cannonball_<version>_amd64.deb            /usr/bin/cannonball, Depends from dpkg-shlibdeps
#
# usage: scripts/package.sh [BUILD_DIR]   (default build-package; writes dist/ in the repo root;
#        an existing build tree is reused, only cannonball is relinked)
#
# The binary is configured with -DCB_PORTABLE=ON (cmake/package.cmake: static zlib/zstd, RPATH
# $ORIGIN/../lib). Which libraries go into lib/ is not a list kept here: whatever `ldd` resolves
# that is not part of glibc is copied, so a dependency someone adds later is bundled too.
# The script then re-runs `ldd` on the bundled binary and fails unless every library it names
# is inside the bundle or glibc's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$root/build-package}")
dist=$root/dist

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if [[ -f $build/CMakeCache.txt ]]; then
  # An existing Release tree (CI passes its `build`): CB_PORTABLE changes only how cannonball
  # links, so this relinks one binary instead of compiling everything again.
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCB_PORTABLE=ON >/dev/null
else
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCB_PORTABLE=ON -DCB_TESTS=OFF \
    -DCB_BENCH=OFF -DCB_WERROR=ON "${launcher[@]}" >/dev/null
fi
ninja -C "$build" cannonball

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[[ -n $version ]] || { echo "package.sh: no project version in $build/CMakeCache.txt" >&2; exit 1; }
name=cannonball-$version-linux-x86_64
stage=$build/package/$name
rm -rf "$build/package"
mkdir -p "$stage/lib" "$dist"
cmake --install "$build" --prefix "$stage" >/dev/null

# glibc's own libraries (and the kernel's vDSO): every glibc Linux has them, and they must come
# from the host (a bundled libc would not match the host's ld.so).
is_glibc() {
  [[ $1 =~ ^(linux-vdso|linux-gate|ld-linux[^/]*|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|libanl|libnsl|libBrokenLocale|libthread_db|libnss_[a-z0-9_]+|libc_malloc_debug)\.so(\.[0-9]+)*$ ]]
}

# `ldd` lines: "libtbb.so.12 => /lib/x86_64-linux-gnu/libtbb.so.12 (0x...)", "linux-vdso.so.1 (0x...)",
# "/lib64/ld-linux-x86-64.so.2 (0x...)". Copies each non-glibc library under its soname.
bundled=()
while read -r soname arrow path _; do
  [[ $arrow == "=>" ]] || continue
  is_glibc "$soname" && continue
  if [[ $path == "not" ]]; then
    echo "package.sh: $soname is not found on this machine (ldd: not found)" >&2
    exit 1
  fi
  cp -L "$path" "$stage/lib/$soname"
  chmod 0644 "$stage/lib/$soname"
  bundled+=("$soname")
done < <(ldd "$stage/bin/cannonball")
strip --strip-unneeded "$stage/bin/cannonball" "$stage/lib/"* 2>/dev/null || true

# The check the issue asks for: the bundled binary resolves nothing outside the bundle but glibc.
bad=0
while read -r soname arrow path _; do
  if [[ $arrow == "=>" ]]; then
    path=$(realpath -m "$path")  # ldd prints .../bin/../lib/...
    if [[ $path != "$stage/lib/"* ]] && ! is_glibc "$soname"; then
      echo "package.sh: bundled binary resolves $soname to $path (outside the bundle)" >&2
      bad=1
    fi
  fi
done < <(ldd "$stage/bin/cannonball")
((bad == 0)) || exit 1

mkdir -p "$stage/share/doc/cannonball"
cp "$root/deploy/README.md" "$stage/share/doc/cannonball/README.deploy.md"
cp "$root/deploy/Dockerfile" "$stage/share/doc/cannonball/Dockerfile"
tar -C "$build/package" --owner=0 --group=0 -czf "$dist/$name.tar.gz" "$name"
echo "package.sh: $dist/$name.tar.gz (bundled: ${bundled[*]:-nothing})"
"$stage/bin/cannonball" --version

# The .deb: the same portable binary, without lib/ (Debian provides those libraries; its
# Depends line says which).
(cd "$build" && cpack -G DEB -B "$build/cpack" >/dev/null)
deb=$(ls "$build/cpack/"*.deb)
cp "$deb" "$dist/"
echo "package.sh: $dist/$(basename "$deb") (Depends: $(dpkg-deb -f "$deb" Depends))"
