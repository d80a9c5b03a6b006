#!/bin/sh
# Runs the test suites and ends with the line "N passed, N failed".
#
#   tests/run.sh          every suite: C unit tests, test vectors, Bats
#   tests/run.sh unit     C unit tests only
#
# BIN and BUILD name the folders of the build under test (the sanitizer
# targets point them at their own builds). Every suite prints TAP; a suite
# that exits non-zero without printing a failed test counts as one failure.
set -u
BIN=${BIN:-bin}
BUILD=${BUILD:-build}
export BIN
what=${1:-all}

# Debian's python has numpy; a python3 earlier on PATH may not.
PYTHON=/usr/bin/python3
if ! "$PYTHON" -c 'import numpy' 2>/dev/null; then
    PYTHON=$(command -v python3)
fi
export PYTHON

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed_suites=0

suite() {
    name=$1
    shift
    out=$(mktemp)
    "$@" >"$out" 2>&1
    rc=$?
    cat "$out"
    cat "$out" >>"$log"
    if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$out"; then
        echo "not ok - $name exited with status $rc"
        echo "not ok - $name exited with status $rc" >>"$log"
    fi
    rm -f "$out"
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] && suite "$(basename "$t")" "$t"
done

if [ "$what" = all ]; then
    suite "test vectors (Python reader)" "$PYTHON" formats/test-vectors/check.py
    suite "test vectors (C reader)" "$PYTHON" formats/test-vectors/check.py \
        --cmd "$BIN/selfsup-tsf validate"
    if [ -n "$(ls tests/bats/*.bats 2>/dev/null)" ]; then
        suite "bats" bats --tap tests/bats
    fi
fi

passed=$(grep -c '^ok ' "$log")
failed=$(grep -c '^not ok' "$log")
skipped=$(grep -c '^ok .*# skip' "$log")
echo
echo "$((passed - skipped)) passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
