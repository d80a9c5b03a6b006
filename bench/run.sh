#!/bin/sh
# Run every benchmark and write docs/benchmarks.md (called by `make bench`).
#
# Generates the inputs in bench/out/ with selfsup's own tools, times each
# selfsup command against its peers in alternation (bench/timeit.py), then
# formats the page and prints a summary (bench/report.py). A missed target is
# reported, not treated as an error; the script fails only when a command does.
# Environment: FMNIST_DIR (default /usr/share/datasets/fashion-mnist),
# BENCH_REPS (recorded rounds, default 7, at least 5).
set -eu
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
TSF=bin/selfsup-tsf
OUT=bench/out
DATA=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
IMAGES=$DATA/train-images-idx3-ubyte.gz
LABELS=$DATA/train-labels-idx1-ubyte.gz
REPS=${BENCH_REPS:-7}
# big.tsf is this many copies of the Fashion-MNIST stream (about 55 MB each).
COPIES=6

for f in "$TSF" "$IMAGES" "$LABELS"; do
    if [ ! -e "$f" ]; then
        echo "bench/run.sh: $f not found (run 'make' first; set FMNIST_DIR for the data)" >&2
        exit 1
    fi
done
if ! command -v zstd >/dev/null; then
    echo "bench/run.sh: the zstd command is missing (Debian package zstd)" >&2
    exit 1
fi
if ! $PY -c 'import numpy' 2>/dev/null; then
    echo "bench/run.sh: $PY cannot import numpy (Debian package python3-numpy)" >&2
    exit 1
fi

mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT/notes.txt"
note() { printf '%s\n' "$*" >>"$OUT/notes.txt"; }
size() { wc -c <"$1" | tr -d ' '; }
timeit() { $PY bench/timeit.py -n "$REPS" "$@"; }

# Fashion-MNIST as a stored (codec 0) stream. The extra `cat` undoes any
# compression that import applies, so benchmark 3 compresses raw chunks.
echo "bench: generating inputs in $OUT" >&2
note "Load average (1, 5, 15 min) before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
HAVE_IMPORT=yes
if $TSF import idx -o "$OUT/fmnist-import.tsf" "$IMAGES" "$LABELS" 2>"$OUT/import.err"; then
    $TSF cat <"$OUT/fmnist-import.tsf" >"$OUT/fmnist.tsf"
    note "fmnist.tsf: \`$TSF import idx -o $OUT/fmnist-import.tsf $IMAGES $LABELS\`, then \`$TSF cat\` to store it uncompressed; $(size "$OUT/fmnist.tsf") bytes, 60000 records."
else
    HAVE_IMPORT=no
    IMPORT_ERROR=$(tail -n 1 "$OUT/import.err")
    IMPORT_ERROR=${IMPORT_ERROR:-no message}
    echo "bench: 'selfsup-tsf import idx' failed ($IMPORT_ERROR); using bench/fmnist_tsf.py" >&2
    $PY bench/fmnist_tsf.py "$IMAGES" "$LABELS" "$OUT/fmnist.tsf"
    note "fmnist.tsf: \`bench/fmnist_tsf.py\` (formats/tsf.py writer), because \`selfsup-tsf import idx\` failed; $(size "$OUT/fmnist.tsf") bytes, 60000 records."
fi

set --
i=0
while [ "$i" -lt "$COPIES" ]; do
    set -- "$@" "$OUT/fmnist.tsf"
    i=$((i + 1))
done
$TSF cat "$@" >"$OUT/big.tsf"
$TSF validate -q "$OUT/big.tsf"
$TSF cat -z --level 1 <"$OUT/big.tsf" >"$OUT/big.z.tsf"
zstd -q -f -1 "$OUT/big.tsf" -o "$OUT/big.tsf.zst"
BIG=$(size "$OUT/big.tsf")
FMNIST=$(size "$OUT/fmnist.tsf")
note "big.tsf: \`$TSF cat\` of $COPIES copies of fmnist.tsf, one stream of $((COPIES * 60000)) records, $BIG bytes, chunks stored uncompressed."
note "big.z.tsf: \`$TSF cat -z --level 1 < big.tsf\`, $(size "$OUT/big.z.tsf") bytes; big.tsf.zst: \`zstd -1 big.tsf\`, $(size "$OUT/big.tsf.zst") bytes."
note "Compressed size of fmnist.tsf at level 1: selfsup-tsf cat -z $($TSF cat -z --level 1 <"$OUT/fmnist.tsf" | wc -c | tr -d ' ') bytes, zstd -1 $(zstd -1 -c "$OUT/fmnist.tsf" | wc -c | tr -d ' ') bytes (of $FMNIST)."

echo "bench: 1 of 5: read and check a stored stream" >&2
timeit --name read --title "1. Read and check every CRC of a stored stream" \
    --bytes "$BIG" --target-rate 2e9 -o "$OUT/b1-read.json" \
    -c selfsup "$TSF cat < $OUT/big.tsf > /dev/null" \
    -c "cat" "cat $OUT/big.tsf > /dev/null" \
    -c "tsf.py" "$PY formats/tsf.py validate $OUT/big.tsf"

echo "bench: 2 of 5: validate a compressed stream" >&2
timeit --name read-zstd --title "1b. Validate a zstd-compressed stream (decoded bytes)" \
    --bytes "$BIG" -o "$OUT/b1b-read-zstd.json" \
    -c selfsup "$TSF validate $OUT/big.z.tsf" \
    -c "zstd -t" "zstd -t -q $OUT/big.tsf.zst"

echo "bench: 3 of 5: pipeline" >&2
timeit --name pipe --title "2. Pipeline cat | selfsup-tsf cat | selfsup-tsf validate" \
    --bytes "$BIG" --target-rate 1e9 -o "$OUT/b2-pipe.json" \
    -c selfsup "cat $OUT/big.tsf | $TSF cat | $TSF validate" \
    -c "cat pipe" "cat $OUT/big.tsf | cat | cat > /dev/null"

echo "bench: 4 of 5: zstd level 1 compression" >&2
timeit --name zstd --title "3. zstd level 1 chunk compression of Fashion-MNIST" \
    --bytes "$FMNIST" --target-rate 400e6 -o "$OUT/b3-zstd.json" \
    -c selfsup "$TSF cat -z --level 1 < $OUT/fmnist.tsf > /dev/null" \
    -c "zstd -1" "zstd -1 -c $OUT/fmnist.tsf > /dev/null"

if [ "$HAVE_IMPORT" = yes ]; then
    echo "bench: 5 of 5: import Fashion-MNIST" >&2
    timeit --name import --title "4. Import the 60,000 Fashion-MNIST training images" \
        --records 60000 --target-time 1 -o "$OUT/b4-import.json" \
        -c selfsup "$TSF import idx -o $OUT/import.tsf $IMAGES $LABELS" \
        -c "numpy" "$PY bench/idx_numpy.py $IMAGES $LABELS"
else
    note "Benchmark 4 (import of the 60,000 Fashion-MNIST training images, target < 1 s) was not run: \`selfsup-tsf import idx\` failed ($IMPORT_ERROR)."
fi

note "Load average (1, 5, 15 min) after the run: $(cut -d' ' -f1-3 /proc/loadavg)."
$PY bench/report.py --notes "$OUT/notes.txt" -o docs/benchmarks.md "$OUT"/b*.json
