#!/usr/bin/env bash
# Checks that every tracked C++ source is formatted by the checked-in .clang-format (Google
# style, 100 columns). Exit 1 with the list of files that differ; `--fix` rewrites them.
# The guests under tests/guests/ are MIPS C and assembly built by a cross compiler; they keep
# their own layout and are not checked.
set -euo pipefail
cd "$(dirname "$0")/.."
fmt=${CLANG_FORMAT:-clang-format}
command -v "$fmt" >/dev/null || { echo "error: $fmt not found (scripts/setup.sh installs it)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cc' '*.hpp' | grep -v '^tests/guests/')
if [[ "${1:-}" == --fix ]]; then
  "$fmt" -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$fmt" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  printf 'not formatted: %s\n' "${bad[@]}" >&2
  echo "error: ${#bad[@]} of ${#files[@]} files differ from .clang-format (fix: bash scripts/check-format.sh --fix)" >&2
  exit 1
fi
echo "format: ${#files[@]} files match .clang-format"
