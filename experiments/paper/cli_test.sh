#!/usr/bin/env bash
# The paper mains' command lines: --help lists every documented flag with its meaning, and bad
# values or unknown flags exit 1 naming the flag.
set -u
xor="$1"
universality="$2"
final_distance="$3"
fails=0

# expect_help NAME BINARY FLAG...: --help prints each --FLAG with a description.
expect_help() {
  local name="$1" bin="$2"
  shift 2
  local help
  help=$("$bin" --help 2>&1)
  for flag in "$@"; do
    if ! grep -qE -- "--$flag \(.{8,}" <<<"$help"; then
      echo "FAIL $name --help: no description of --$flag"; echo "$help"; fails=$((fails + 1))
    fi
  done
  echo "ok   $name --help"
}

# expect_fail NAME EXPECTED_SUBSTRING BINARY ARGS...: exit 1 and the substring in stderr.
expect_fail() {
  local name="$1" want="$2"
  shift 2
  local err rc
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne 1 ]; then
    echo "FAIL $name: exit $rc, expected 1"; echo "$err"; fails=$((fails + 1))
  elif ! grep -qF -- "$want" <<<"$err"; then
    echo "FAIL $name: message lacks '$want':"; echo "$err"; fails=$((fails + 1))
  else
    echo "ok   $name: $(head -1 <<<"$err")"
  fi
}

expect_help structure "$xor" out specs set smoke threads seeds no_figures quiet
expect_help universality "$universality" out specs rows set smoke threads no_figures resume quiet
expect_help fig_final_distance "$final_distance" out runs grid threads smoke resume quiet

expect_fail structure_threads "--threads = \"-2\"; must be an integer >= 0" "$xor" xor --threads=-2
expect_fail structure_seeds "--seeds = 0; must be >= 1" "$xor" mnist_structure --seeds=0
expect_fail structure_name "expected one experiment name" "$xor" xor context
expect_fail structure_unknown "no_such_flag" "$xor" xor --no_such_flag
expect_fail structure_bad_set "no_such_field" "$xor" xor --smoke --set=training.no_such_field=1
expect_fail universality_threads "--threads = \"-1\"; must be an integer >= 0" "$universality" --threads=-1
expect_fail universality_rows 'no spec "nope.pbtxt"' "$universality" --rows=nope --smoke
expect_fail final_distance_runs "--runs = 0; must be >= 1" "$final_distance" --runs=0
expect_fail final_distance_grid "--grid = 1; must be >= 2" "$final_distance" --grid=1
expect_fail final_distance_threads "Illegal value" "$final_distance" --threads=x

if [ "$fails" -eq 0 ]; then echo "PASS"; fi
exit "$fails"
