#!/usr/bin/env bash
# Times gantry/sdk/snapshot on a generated tree (default 10,000 files,
# 200 MB of random data) against sha256sum over the same files:
#   the first snapshot into an empty store (reads, hashes and writes
#   every file), with all CPUs and with one worker;
#   hashing alone (the store already holds every blob, no stat cache);
#   an unchanged re-snapshot (stat cache warm), five times;
#   a re-snapshot after one file changed.
# `cp -r` of the tree is timed too: the first snapshot writes as much, and
# on a shared virtual disk both vary with the host's I/O.
# The page cache is warm for every timed pass (sha256sum runs first).
# Usage: bench/snapshot.sh [FILES] [BYTES]; STORE_BASE=/dev/shm puts the
# blob stores on tmpfs.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-10000}
bytes=${2:-200000000}
tmp=$(mktemp -d)
stores=$(mktemp -d "${STORE_BASE:-$tmp}/stores.XXXXXX")
trap 'rm -rf "$tmp" "$stores"' EXIT
go build -o "$tmp/snapshotbench" ./bench/snapshotbench
bench=$tmp/snapshotbench

ms() { echo $(($(date +%s%N) / 1000000)); }
timed() { # prints the wall milliseconds of "$@"
    local t0
    t0=$(ms)
    "$@" >/dev/null
    echo $(($(ms) - t0))
}
shasum() { find "$tmp/tree" -type f -print0 | xargs -0 sha256sum; }

"$bench" -gen "$tmp/tree" -files "$files" -bytes "$bytes"
echo "tree: $(find "$tmp/tree" -type f | wc -l) files," \
    "$(find "$tmp/tree" -type f -printf '%s\n' | awk '{n += $1} END {print n}') bytes; $(nproc) CPUs; stores in $stores"
sleep 2 # files written in the last two seconds are not trusted to the stat cache

shasum >/dev/null # warm the page cache
sha=$(timed shasum)
echo "sha256sum:                 ${sha} ms"
cp=$(timed cp -r "$tmp/tree" "$stores/copy")
echo "cp -r:                     ${cp} ms"

first=$("$bench" "$tmp/tree" "$stores/store")
echo "first snapshot:            $first"
first1=$("$bench" -workers 1 -no-cache "$tmp/tree" "$stores/store1")
echo "first snapshot, 1 worker:  $first1"
hashonly=$("$bench" -no-cache "$tmp/tree" "$stores/store")
echo "hashing only:              $hashonly"
for i in 1 2 3 4 5; do
    echo "unchanged re-snapshot $i:   $("$bench" "$tmp/tree" "$stores/store")"
done
f=$(find "$tmp/tree" -type f -name '*.dat' -print -quit)
printf 'changed' | dd of="$f" bs=1 seek=0 conv=notrunc status=none
echo "after one file changed:    $("$bench" "$tmp/tree" "$stores/store")"

awk -v s="$sha" -v c="$cp" -v a="${first%% ms*}" -v b="${first1%% ms*}" -v h="${hashonly%% ms*}" 'BEGIN {
    printf "throughput relative to sha256sum: first snapshot %.2f (1 worker %.2f), hashing only %.2f\n", s/a, s/b, s/h
    printf "first snapshot time relative to cp -r: %.2f\n", a/c
}'
