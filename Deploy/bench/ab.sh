#!/usr/bin/env bash
# Compares builds of `aurora-bench parse` on one file, interleaved: this machine's speed changes
# from minute to minute by up to 1.5x, so builds measured one after the other cannot be compared.
# Each of N rounds runs every binary once (best of 3 inside); prints min and median seconds.
#   Deploy/bench/ab.sh N FILE BINARY...     (copy each build's .build/release/aurora-bench aside first)
set -euo pipefail
rounds=$1 file=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for round in $(seq "$rounds"); do
  for index in $(seq $#); do
    binary=${!index}
    "$binary" parse "$file" --rounds 3 | awk '/^profile/ { print $4 }' >> "$work/$index"
  done
done
for index in $(seq $#); do
  sort -n "$work/$index" | awk -v name="${!index}" '{ t[NR] = $1 } END { printf "%-40s min %.3f s  median %.3f s  (%d runs)\n", name, t[1], t[int((NR + 1) / 2)], NR }'
done
