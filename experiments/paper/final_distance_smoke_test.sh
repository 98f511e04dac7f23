#!/usr/bin/env bash
# fig_final_distance --smoke end to end: every output exists and summary.json holds finite
# key figures with the counts the smoke size implies.
set -u
bin="$1"
out="${TEST_TMPDIR:-$(mktemp -d)}/fd"
if ! "$bin" --smoke --threads=1 --quiet --out="$out" > "$out.log" 2>&1; then
  echo "FAIL: fig_final_distance --smoke exited non-zero"; cat "$out.log"; exit 1
fi
fails=0
for f in rates.csv final_distance.csv summary.json; do
  [ -s "$out/$f" ] || { echo "FAIL: missing $f"; fails=$((fails + 1)); }
done
# 4 rate runs and a 2 x 2 grid; every key a number (null would mean nothing was measured).
rows=$(($(wc -l < "$out/final_distance.csv") - 1))
[ "$rows" -eq 4 ] || { echo "FAIL: final_distance.csv has $rows rows, expected 4"; fails=$((fails + 1)); }
for key in eta_h eta_y runs runs_kept points points_converged pearson_r max_ratio; do
  if ! grep -Eq "\"$key\": -?[0-9]" "$out/summary.json"; then
    echo "FAIL: summary.json lacks a number for $key"; fails=$((fails + 1))
  fi
done
grep -q '"runs": 4,' "$out/summary.json" || { echo "FAIL: runs != 4"; fails=$((fails + 1)); }
if [ "$fails" -eq 0 ]; then echo "PASS"; cat "$out/summary.json"; fi
exit "$fails"
