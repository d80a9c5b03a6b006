#!/bin/sh
# Seeds a corpus for each fuzzer in FUZZ_BUILD and runs it for FUZZ_TIME
# seconds. `make fuzz` builds the fuzzers and then calls this script.
#
#   FUZZ_BUILD=build-fuzz FUZZ_TIME=60 sh tests/fuzz/run.sh [FLAG...]
#
# Extra arguments go to every fuzzer (for example -jobs=1). The corpora stay
# in FUZZ_BUILD/corpus/NAME between runs, and inputs that fail are saved as
# FUZZ_BUILD/crashes/NAME-crash-SHA1 (or leak-, timeout-, oom-). Nothing is
# written under formats/. Ends with "N passed, N failed", one count per
# fuzzer, and exits 1 when any fuzzer found a failure.
#
# Left out: merging or minimising corpora, which libFuzzer does itself with
# -merge=1 and -minimize_crash=1.
set -u
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_TIME=${FUZZ_TIME:-60}
vectors=formats/test-vectors

# Copies the metadata text of every test vector into the JSON corpus. The
# stream header stores its length as a little-endian uint32 at byte 16, and
# the text follows the 24-byte header.
seed_json() {
    for f in "$vectors"/valid/*.tsf "$vectors"/invalid/*.tsf; do
        len=$(od -An -tu4 -j16 -N4 --endian=little "$f" 2>/dev/null | tr -d ' ')
        [ -n "$len" ] && [ "$len" -gt 0 ] || continue
        seed=$1/$(basename "$f" .tsf).json
        tail -c +25 "$f" | head -c "$len" >"$seed"
        [ -s "$seed" ] || rm -f "$seed"
    done
}

status=0
passed=0
failed=0
mkdir -p "$FUZZ_BUILD/crashes"
for fuzzer in "$FUZZ_BUILD"/fuzz_*; do
    [ -x "$fuzzer" ] || continue
    name=${fuzzer##*/fuzz_}
    corpus=$FUZZ_BUILD/corpus/$name
    mkdir -p "$corpus"
    case $name in
    tsf_read) cp "$vectors"/valid/*.tsf "$vectors"/invalid/*.tsf "$corpus"/ ;;
    json) seed_json "$corpus" ;;
    esac
    echo "fuzz_$name: $FUZZ_TIME seconds"
    # -timeout: an input that takes 10 s is a hang, far beyond any vector.
    # The fuzzer runs inside FUZZ_BUILD so that the fuzz-N.log files that
    # -jobs writes land there too.
    if (cd "$FUZZ_BUILD" && "./fuzz_$name" -max_total_time="$FUZZ_TIME" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="crashes/$name-" "$@" "corpus/$name"); then
        passed=$((passed + 1))
    else
        echo "fuzz_$name: failure saved in $FUZZ_BUILD/crashes/" >&2
        failed=$((failed + 1))
        status=1
    fi
done
echo "$passed passed, $failed failed"
exit $status
