#!/usr/bin/env bash
# Checks that every tracked C++ file is formatted as .clang-format says (Google, 100 columns).
#   tools/check_format.sh          # lists offending files, exits 1 if any
#   tools/check_format.sh --fix    # formats them in place
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check_format: clang-format not found; run tools/setup.sh" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.cc' '*.h')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
if clang-format --dry-run -Werror "${files[@]}" 2>/tmp/check_format.$$; then
  rm -f /tmp/check_format.$$
  echo "check_format: ${#files[@]} files clean"
else
  grep -oE '^[^:]+\.(cc|h):' /tmp/check_format.$$ | sort -u | sed 's/:$//; s/^/  not formatted: /' >&2
  rm -f /tmp/check_format.$$
  echo "check_format: run tools/check_format.sh --fix" >&2
  exit 1
fi
