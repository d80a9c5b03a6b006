#!/usr/bin/env bats
# selfsup-tsf as a user runs it: option handling of every subcommand, then what info,
# validate, cat, head, take, shuffle, split and sample write, and how failures travel
# through pipes. Import and export are covered by tsf_import_export.bats; only their
# --help, --version and unknown-option handling are checked here.

load helpers

COMMANDS="info validate cat head take shuffle split sample import export"

setup_file() {
    D=$BATS_FILE_TMPDIR
    make_samples "$D/s30.tsf" 30 3
    make_samples "$D/s30z.tsf" 30 3 zstd
    make_samples "$D/s40.tsf" 40 4
    make_samples "$D/s31.tsf" 31 3
    # 400 records of 4 KiB each: more than a pipe buffer and more than 1 MiB.
    py '
w = tsf.Writer(open(sys.argv[1], "wb"), {"kind": "samples"})
for i in range(400):
    img = ((np.arange(4096) + i) % 251).astype(np.uint8).reshape(64, 64, 1)
    w.write({"key": "b%04d" % i, "image": img, "label": np.int64(i % 2)})
w.end()
' "$D/big.tsf"
    # Same fields as s30 but a different kind and no classes: cat must start a new stream.
    py '
w = tsf.Writer(open(sys.argv[1], "wb"), {"kind": "embeddings"})
for i in range(5):
    w.write({"key": "e%d" % i, "embedding": np.full(3, i, np.float32)})
w.end()
' "$D/emb.tsf"
}

setup() {
    D=$BATS_FILE_TMPDIR
    mkdir "$BATS_TEST_TMPDIR/work"
    cd "$BATS_TEST_TMPDIR/work"
}

# check_help CMD: --help prints the usage of CMD on stdout and nothing on stderr.
check_help() {
    run --separate-stderr "$TSF" "$1" --help
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 --partial "Usage: selfsup-tsf $1 "
    assert_output --partial "--help"
}

check_version() {
    run --separate-stderr "$TSF" "$1" --version
    assert_success
    assert_equal "$stderr" ""
    assert_output --regexp "^selfsup-tsf $1 [0-9]+\.[0-9]+"
}

# --- the command itself -------------------------------------------------------------

@test "tsf: --help lists every subcommand" {
    run --separate-stderr "$TSF" --help
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 --partial "Usage: selfsup-tsf COMMAND"
    for c in $COMMANDS; do
        assert_line --regexp "^  $c "
    done
}

@test "tsf: --version" {
    run --separate-stderr "$TSF" --version
    assert_success
    assert_output --regexp '^selfsup-tsf [0-9]+\.[0-9]+'
}

@test "tsf: no command is a usage error" {
    expect_usage_error "$TSF"
    assert_equal "$(printf '%s' "$stderr" | head -1)" "Usage: selfsup-tsf COMMAND [OPTION]... [ARG]..."
}

@test "tsf: unknown command" {
    expect_usage_error "$TSF" frobnicate
    assert_equal "$(printf '%s' "$stderr" | grep -c frobnicate)" 1
}

# --- --help and --version of every subcommand ---------------------------------------

@test "info: --help" { check_help info; }
@test "validate: --help" { check_help validate; }
@test "cat: --help" { check_help cat; }
@test "head: --help" { check_help head; }
@test "take: --help" { check_help take; }
@test "shuffle: --help" { check_help shuffle; }
@test "split: --help" { check_help split; }
@test "sample: --help" { check_help sample; }
@test "import: --help" { check_help import; }
@test "export: --help" { check_help export; }

@test "info: --version" { check_version info; }
@test "validate: --version" { check_version validate; }
@test "cat: --version" { check_version cat; }
@test "head: --version" { check_version head; }
@test "take: --version" { check_version take; }
@test "shuffle: --version" { check_version shuffle; }
@test "split: --version" { check_version split; }
@test "sample: --version" { check_version sample; }
@test "import: --version" { check_version import; }
@test "export: --version" { check_version export; }

@test "all: -h is --help" {
    for c in info validate cat head take shuffle split sample; do
        diff <("$TSF" "$c" -h) <("$TSF" "$c" --help)
    done
}

# --- usage errors: status 2, a message on stderr, nothing on stdout -----------------

# unknown_option CMD: an unknown long option is a usage error that names the option.
unknown_option() {
    expect_usage_error "$TSF" "$1" --no-such-option "$D/s30.tsf"
    assert_equal "$(printf '%s' "$stderr" | grep -c -- --no-such-option)" 1
}

@test "info: unknown long option" { unknown_option info; }
@test "validate: unknown long option" { unknown_option validate; }
@test "cat: unknown long option" { unknown_option cat; }
@test "head: unknown long option" { unknown_option head; }
@test "take: unknown long option" { unknown_option take; }
@test "shuffle: unknown long option" { unknown_option shuffle; }
@test "split: unknown long option" { unknown_option split; }
@test "sample: unknown long option" { unknown_option sample; }
@test "import: unknown long option" { unknown_option import; }
@test "export: unknown long option" { unknown_option export; }

@test "all: unknown short option" {
    for c in info validate cat head take shuffle split sample; do
        expect_usage_error "$TSF" "$c" -Y "$D/s30.tsf"
    done
}

@test "all: --max-meta without a value" {
    for c in info validate cat head take shuffle split sample; do
        expect_usage_error "$TSF" "$c" --max-meta
        assert_equal "$(printf '%s' "$stderr" | grep -c -- "--max-meta' requires a value")" 1
    done
}

@test "all: --max-meta and --max-chunk not numbers" {
    for c in info validate cat head take shuffle split sample; do
        expect_usage_error "$TSF" "$c" --max-meta abc "$D/s30.tsf"
        expect_usage_error "$TSF" "$c" --max-chunk -1 "$D/s30.tsf"
        expect_usage_error "$TSF" "$c" --max-chunk 0 "$D/s30.tsf"
    done
}

@test "info: a flag given a value" {
    expect_usage_error "$TSF" info --json=1 "$D/s30.tsf"
}

@test "head: -n not a number" {
    expect_usage_error "$TSF" head -n abc "$D/s30.tsf"
    assert_output ""
    assert_equal "$(printf '%s' "$stderr" | grep -c "'abc'")" 1
}

@test "head: -n negative" { expect_usage_error "$TSF" head -n -1 "$D/s30.tsf"; }
@test "head: -n with trailing junk" { expect_usage_error "$TSF" head -n 3x "$D/s30.tsf"; }
@test "head: -n empty" { expect_usage_error "$TSF" head -n '' "$D/s30.tsf"; }
@test "head: -n overflowing" { expect_usage_error "$TSF" head -n 99999999999999999999999 "$D/s30.tsf"; }
@test "head: -n without a value" { expect_usage_error "$TSF" head -n; }
@test "take: --every 0" { expect_usage_error "$TSF" take --every 0 "$D/s30.tsf"; }
@test "take: --skip negative" { expect_usage_error "$TSF" take --skip -1 "$D/s30.tsf"; }
@test "take: --count not a number" { expect_usage_error "$TSF" take --count abc "$D/s30.tsf"; }
@test "cat: --level 0" { expect_usage_error "$TSF" cat -z --level 0 "$D/s30.tsf"; }
@test "cat: --level 20" { expect_usage_error "$TSF" cat -z --level 20 "$D/s30.tsf"; }
@test "cat: -o without a value" { expect_usage_error "$TSF" cat -o; }
@test "shuffle: --seed not a number" { expect_usage_error "$TSF" shuffle --seed abc "$D/s30.tsf"; }
@test "shuffle: --seed negative" { expect_usage_error "$TSF" shuffle --seed -1 "$D/s30.tsf"; }
@test "shuffle: --max-memory 0" { expect_usage_error "$TSF" shuffle --max-memory 0 "$D/s30.tsf"; }

@test "split: --fraction 2" {
    expect_usage_error "$TSF" split --train t.tsf --val v.tsf --fraction 2 "$D/s30.tsf"
    [ ! -e t.tsf ] && [ ! -e v.tsf ]
}

@test "split: --fraction negative" {
    expect_usage_error "$TSF" split --train t.tsf --val v.tsf --fraction -0.1 "$D/s30.tsf"
}

@test "split: --fraction not a number" {
    expect_usage_error "$TSF" split --train t.tsf --val v.tsf --fraction abc "$D/s30.tsf"
    expect_usage_error "$TSF" split --train t.tsf --val v.tsf --fraction nan "$D/s30.tsf"
}

@test "split: --train missing" {
    expect_usage_error "$TSF" split --val v.tsf "$D/s30.tsf"
    assert_equal "$(printf '%s' "$stderr" | grep -c -- --train)" 1
    [ ! -e v.tsf ]
}

@test "split: --val missing" {
    expect_usage_error "$TSF" split --train t.tsf "$D/s30.tsf"
    [ ! -e t.tsf ]
}

@test "split: --train and --val the same file" {
    expect_usage_error "$TSF" split --train t.tsf --val t.tsf "$D/s30.tsf"
}

@test "sample: neither --per-class nor --count" {
    expect_usage_error "$TSF" sample "$D/s30.tsf"
    assert_equal "$(printf '%s' "$stderr" | grep -c -- --per-class)" 1
}

@test "sample: both --per-class and --count" {
    expect_usage_error "$TSF" sample --per-class 2 --count 3 "$D/s30.tsf"
}

@test "sample: --per-class 0" { expect_usage_error "$TSF" sample --per-class 0 "$D/s30.tsf"; }
@test "sample: --count negative" { expect_usage_error "$TSF" sample --count -1 "$D/s30.tsf"; }
@test "sample: --per-class not a number" { expect_usage_error "$TSF" sample -k two "$D/s30.tsf"; }

@test "all: missing input file fails" {
    for c in info validate cat head take shuffle sample; do
        args=()
        [ "$c" = sample ] && args=(--count 1)
        run --separate-stderr "$TSF" "$c" "${args[@]}" no-such-file.tsf
        assert_equal "$status" 1
        assert_equal "$(printf '%s' "$stderr" | grep -c no-such-file.tsf)" 1
    done
}

# --- info ---------------------------------------------------------------------------

@test "info: text summary" {
    run --separate-stderr "$TSF" info "$D/s30.tsf"
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 --partial "stream 0: kind samples, 30 records"
    assert_line --regexp '^ *label +int64 +\[\] +0 +2 '
    assert_line --regexp '^ *image +uint8 +\[4,4,1\] '
    assert_output --partial "0 (c0): 10"
    assert_output --partial "2 (c2): 10"
}

@test "info: --json statistics" {
    "$TSF" info --json "$D/s31.tsf" >info.json
    py '
lines = open("info.json").read().splitlines()
assert len(lines) == 1, lines
s = json.loads(lines[0])
assert s["records"] == 31 and s["stream"] == 0, s
f = {x["name"]: x for x in s["fields"]}
assert set(f) == {"key", "image", "label"}, f
assert f["label"]["dtype"] == "int64" and f["label"]["min"] == 0 and f["label"]["max"] == 2
assert f["label"]["counts"] == {"0": 11, "1": 10, "2": 10}, f["label"]
assert f["image"]["dims_min"] == [4, 4, 1] and f["image"]["dims_max"] == [4, 4, 1]
assert f["image"]["records"] == 31
assert s["metadata"]["classes"] == ["c0", "c1", "c2"]
# image bytes are (7 * j + 13 * i) % 256 for pixel j of record i
img = np.array([(np.arange(16) * 7 + i * 13) % 256 for i in range(31)], dtype=np.float64)
assert f["image"]["min"] == img.min() and f["image"]["max"] == img.max()
assert abs(f["image"]["mean"] - img.mean()) < 1e-6, (f["image"]["mean"], img.mean())
assert abs(f["image"]["std"] - img.std()) < 1e-3 * img.std(), (f["image"]["std"], img.std())
'
}

@test "info: --json prints one object per stream" {
    cat "$D/s30.tsf" "$D/s40.tsf" >two.tsf
    "$TSF" info --json two.tsf "$D/s30z.tsf" >info.json
    py '
s = [json.loads(l) for l in open("info.json")]
assert [x["records"] for x in s] == [30, 40, 30], s
assert [x["stream"] for x in s] == [0, 1, 0], s
'
}

@test "info: reads standard input" {
    run --separate-stderr "$TSF" info - <"$D/s30.tsf"
    assert_success
    assert_line --index 0 --partial "30 records"
}

@test "info: rejects bad input with status 1" {
    printf 'hello\n' >bad.tsf
    run --separate-stderr "$TSF" info bad.tsf
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c "not a TSF stream")" 1
}

# --- validate -----------------------------------------------------------------------

@test "validate: a good file" {
    run --separate-stderr "$TSF" validate "$D/s30.tsf" "$D/s30z.tsf"
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 --regexp 's30\.tsf: ok: 1 stream, 30 records$'
    assert_line --index 1 --regexp 's30z\.tsf: ok: 1 stream, 30 records$'
}

@test "validate: standard input" {
    run --separate-stderr "$TSF" validate <"$D/s30.tsf"
    assert_success
    assert_output "stdin: ok: 1 stream, 30 records"
}

@test "validate: -q is silent" {
    run --separate-stderr "$TSF" validate -q "$D/s30.tsf"
    assert_success
    assert_output ""
    assert_equal "$stderr" ""
}

@test "validate: two streams joined by cat" {
    cat "$D/s30.tsf" "$D/s30z.tsf" >two.tsf
    run --separate-stderr "$TSF" validate two.tsf
    assert_success
    assert_output --regexp 'ok: 2 streams, 60 records$'
}

@test "validate: truncated file" {
    size=$(stat -c %s "$D/s30.tsf")
    for n in 10 30 200 300 $((size - 20)) $((size - 1)); do
        head -c "$n" "$D/s30.tsf" >cut.tsf
        run --separate-stderr "$TSF" validate cut.tsf
        assert_equal "$status" 1
        [[ "$stderr" == *truncated* || "$stderr" == *"without an ENDS chunk"* ]] ||
            fail "cut at $n: $stderr"
    done
}

@test "validate: every flipped byte is caught" {
    # one damaged copy per offset: header, metadata, chunk headers, payloads, ENDS
    py '
data = open(sys.argv[1], "rb").read()
n = len(data)
for at in [0, 9, 17, 21, 30, n // 3, n // 2, n - 30, n - 9, n - 1]:
    bad = bytearray(data)
    bad[at] ^= 0x10
    open("bad-%d.tsf" % at, "wb").write(bad)
' "$D/s30z.tsf"
    for f in bad-*.tsf; do
        run --separate-stderr "$TSF" validate "$f"
        assert_equal "$status" 1
        [ -n "$stderr" ] || fail "$f: no message"
    done
}

@test "validate: payload CRC mismatch" {
    cp "$D/s30.tsf" bad.tsf
    printf '\377' | dd of=bad.tsf bs=1 seek=400 conv=notrunc 2>/dev/null
    run --separate-stderr "$TSF" validate bad.tsf
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c "payload CRC mismatch")" 1
}

@test "validate: empty input" {
    : >empty.tsf
    run --separate-stderr "$TSF" validate empty.tsf
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c "empty input")" 1
    run --separate-stderr "$TSF" validate </dev/null
    assert_failure 1
}

@test "validate: garbage input" {
    head -c 300 /dev/zero >zeros.tsf
    printf 'label,image\n1,2\n' >text.tsf
    for f in zeros.tsf text.tsf; do
        run --separate-stderr "$TSF" validate "$f"
        assert_failure 1
        assert_equal "$(printf '%s' "$stderr" | grep -c "not a TSF stream")" 1
    done
}

@test "validate: one bad file fails" {
    printf 'x' >bad.tsf
    run --separate-stderr "$TSF" validate "$D/s30.tsf" bad.tsf "$D/s40.tsf"
    assert_failure 1
    assert_line --partial "s30.tsf: ok"
    assert_line --partial "s40.tsf: ok"
}

@test "validate: trailing bytes after a stream" {
    { cat "$D/s30.tsf"; printf 'junk'; } >tail.tsf
    run --separate-stderr "$TSF" validate tail.tsf
    assert_failure 1
}

# --- cat ----------------------------------------------------------------------------

@test "cat: records round-trip unchanged" {
    "$TSF" cat "$D/s30.tsf" >out.tsf
    py_validate out.tsf
    diff <(records_dump "$D/s30.tsf") <(records_dump out.tsf)
    diff <("$PYTHON" "$FORMATS/tsf.py" dump "$D/s30.tsf" | grep -v '^stream') \
        <("$PYTHON" "$FORMATS/tsf.py" dump out.tsf | grep -v '^stream')
}

@test "cat: keeps metadata, adds producer" {
    "$TSF" cat "$D/s30.tsf" >out.tsf
    py '
m = next(tsf.read("out.tsf"))[0]
assert m["kind"] == "samples" and m["classes"] == ["c0", "c1", "c2"], m
assert [f["name"] for f in m["schema"]["fields"]] == ["key", "image", "label"], m
assert m["producer"]["tool"] == "selfsup-tsf cat", m
'
}

@test "cat: -z writes zstd chunks" {
    "$TSF" cat -z "$D/s30.tsf" >out.tsf
    run chunk_tags out.tsf
    assert_line "DATA 1"
    refute_line "DATA 0"
    assert_line "ENDS 0"
    py_validate out.tsf
    diff <(records_dump "$D/s30.tsf") <(records_dump out.tsf)
}

@test "cat: without -z decodes zstd input" {
    "$TSF" cat "$D/s30z.tsf" >out.tsf
    run chunk_tags out.tsf
    refute_line "DATA 1"
    diff <(records_dump "$D/s30z.tsf") <(records_dump out.tsf)
}

@test "cat: same schema, one stream" {
    "$TSF" cat "$D/s30.tsf" "$D/s30z.tsf" >out.tsf
    run --separate-stderr "$TSF" validate out.tsf
    assert_success
    assert_output --partial "ok: 1 stream, 60 records"
    diff <(records_dump "$D/s30.tsf"; records_dump "$D/s30z.tsf") <(records_dump out.tsf)
}

@test "cat: new schema, new stream" {
    "$TSF" cat "$D/s30.tsf" "$D/emb.tsf" >out.tsf
    run --separate-stderr "$TSF" validate out.tsf
    assert_success
    assert_output --partial "ok: 2 streams, 35 records"
    py '
kinds = [m["kind"] for m, r in tsf.read("out.tsf")]
assert kinds == ["samples"] * 30 + ["embeddings"] * 5, kinds
'
}

@test "cat: reads standard input and -" {
    "$TSF" cat <"$D/s30.tsf" >a.tsf
    "$TSF" cat - <"$D/s30.tsf" >b.tsf
    diff <(records_dump a.tsf) <(records_dump b.tsf)
    assert_equal "$(count_records a.tsf)" 30
}

@test "cat: -o leaves no temporary" {
    "$TSF" cat -o out.tsf "$D/s30.tsf"
    py_validate out.tsf
    run ls -A
    assert_output "out.tsf"
}

@test "cat: -o failure leaves nothing" {
    printf 'not a stream' >bad.tsf
    run --separate-stderr "$TSF" cat -o out.tsf "$D/s30.tsf" bad.tsf
    assert_failure 1
    [ -n "$stderr" ]
    [ ! -e out.tsf ]
    run ls -A
    refute_output --partial ".out.tsf.tmp"
    assert_output "bad.tsf"
}

@test "cat: -o failure keeps old file" {
    printf 'old contents' >out.tsf
    run --separate-stderr "$TSF" cat -o out.tsf "$D/s30.tsf" no-such-file.tsf
    assert_failure 1
    assert_equal "$(cat out.tsf)" "old contents"
    run ls -A
    assert_output "out.tsf"
}

@test "cat: mid-way failure writes ABRT" {
    printf 'not a stream' >bad.tsf
    run --separate-stderr bash -c '"$TSF" cat "$1" bad.tsf >out.tsf' _ "$D/s30.tsf"
    assert_failure 1
    run chunk_tags out.tsf
    assert_line "ABRT 0"
    refute_line "ENDS 0"
}

# --- head and take ------------------------------------------------------------------

@test "head: -n 3" {
    "$TSF" head -n 3 "$D/s30.tsf" >out.tsf
    py_validate out.tsf
    assert_equal "$(keys out.tsf | tr '\n' ' ')" "s000000 s000001 s000002 "
}

@test "head: default is 10 records" {
    "$TSF" head "$D/s30.tsf" >out.tsf
    assert_equal "$(count_records out.tsf)" 10
}

@test "head: -n 0 gives empty stream" {
    "$TSF" head -n 0 "$D/s30.tsf" >out.tsf
    run --separate-stderr "$TSF" validate out.tsf
    assert_success
    assert_output --partial "ok: 1 stream, 0 records"
}

@test "head: more than there is keeps everything" {
    "$TSF" head -n 100 "$D/s30z.tsf" >out.tsf
    diff <(records_dump "$D/s30z.tsf") <(records_dump out.tsf)
}

@test "head: counts across two inputs" {
    "$TSF" head -n 35 "$D/s30.tsf" "$D/s40.tsf" >out.tsf
    assert_equal "$(count_records out.tsf)" 35
    py_validate out.tsf
}

@test "head: -z compresses" {
    "$TSF" head -z -n 20 "$D/s30.tsf" >out.tsf
    run chunk_tags out.tsf
    assert_line "DATA 1"
    diff <(records_dump "$D/s30.tsf" | head -20) <(records_dump out.tsf)
}

@test "take: --skip and --count" {
    "$TSF" take --skip 5 --count 3 "$D/s30.tsf" >out.tsf
    assert_equal "$(keys out.tsf | tr '\n' ' ')" "s000005 s000006 s000007 "
}

@test "take: --every" {
    "$TSF" take --every 7 "$D/s30.tsf" >out.tsf
    assert_equal "$(keys out.tsf | tr '\n' ' ')" "s000000 s000007 s000014 s000021 s000028 "
}

@test "take: --skip, --every and --count together" {
    "$TSF" take -s 5 -e 4 -n 3 "$D/s30.tsf" >out.tsf
    assert_equal "$(keys out.tsf | tr '\n' ' ')" "s000005 s000009 s000013 "
}

@test "take: record numbers count across inputs" {
    "$TSF" take --skip 28 --count 4 "$D/s30.tsf" "$D/s30z.tsf" >out.tsf
    assert_equal "$(keys out.tsf | tr '\n' ' ')" "s000028 s000029 s000000 s000001 "
}

@test "take: --skip past the end" {
    "$TSF" take --skip 1000 "$D/s30.tsf" >out.tsf
    py_validate out.tsf
    assert_equal "$(count_records out.tsf)" 0
}

@test "take: no empty skipped stream" {
    # every record kept comes from the embeddings stream: one output stream, of that kind
    "$TSF" take --skip 30 "$D/s30.tsf" "$D/emb.tsf" >out.tsf
    run --separate-stderr "$TSF" validate out.tsf
    assert_success
    assert_output --partial "ok: 1 stream, 5 records"
    py 'assert {m["kind"] for m, r in tsf.read("out.tsf")} == {"embeddings"}'
}

@test "head: no unused second stream" {
    "$TSF" head -n 3 "$D/s30.tsf" "$D/emb.tsf" >out.tsf
    run --separate-stderr "$TSF" validate out.tsf
    assert_output --partial "ok: 1 stream, 3 records"
}

# --- shuffle ------------------------------------------------------------------------

@test "shuffle: same seed gives identical bytes" {
    "$TSF" shuffle --seed 7 "$D/s30.tsf" >a.tsf
    "$TSF" shuffle --seed 7 "$D/s30.tsf" >b.tsf
    cmp a.tsf b.tsf
}

@test "shuffle: seeds differ, records same" {
    "$TSF" shuffle --seed 1 "$D/s30.tsf" >a.tsf
    "$TSF" shuffle --seed 2 "$D/s30.tsf" >b.tsf
    py_validate a.tsf b.tsf
    [ "$(keys a.tsf)" != "$(keys b.tsf)" ]
    [ "$(keys a.tsf)" != "$(keys "$D/s30.tsf")" ]
    diff <(records_dump "$D/s30.tsf" | sort) <(records_dump a.tsf | sort)
    diff <(records_dump "$D/s30.tsf" | sort) <(records_dump b.tsf | sort)
}

@test "shuffle: mixes records of several inputs" {
    "$TSF" shuffle --seed 3 "$D/s30.tsf" "$D/s31.tsf" >out.tsf
    assert_equal "$(count_records out.tsf)" 61
    diff <({ records_dump "$D/s30.tsf"; records_dump "$D/s31.tsf"; } | sort) <(records_dump out.tsf | sort)
    # the records of the second input do not all come last
    [ "$(records_dump out.tsf | head -30 | sort)" != "$(records_dump "$D/s30.tsf" | sort)" ]
}

@test "shuffle: --max-memory exceeded" {
    run --separate-stderr "$TSF" shuffle --max-memory 1 "$D/big.tsf"
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c "memory limit of 1 MiB")" 1
    assert_equal "$(printf '%s' "$stderr" | grep -c -- "--max-memory")" 1
}

@test "shuffle: failure with -o leaves nothing" {
    run --separate-stderr "$TSF" shuffle -m 1 -o out.tsf "$D/big.tsf"
    assert_failure 1
    run ls -A
    assert_output ""
}

# --- split --------------------------------------------------------------------------

@test "split: --fraction count" {
    "$TSF" split --train t.tsf --val v.tsf --fraction 0.2 "$D/s30.tsf"
    py_validate t.tsf v.tsf
    "$TSF" validate -q t.tsf v.tsf
    assert_equal "$(count_records v.tsf)" 6
    assert_equal "$(count_records t.tsf)" 24
}

@test "split: parts partition the input" {
    "$TSF" split --train t.tsf --val v.tsf --fraction 0.3 --seed 5 "$D/s31.tsf"
    assert_equal "$(count_records v.tsf)" 9
    diff <(keys t.tsf) <(keys t.tsf | sort)
    diff <(keys v.tsf) <(keys v.tsf | sort)
    [ -z "$(comm -12 <(keys t.tsf) <(keys v.tsf))" ]
    diff <(records_dump "$D/s31.tsf" | sort) <({ records_dump t.tsf; records_dump v.tsf; } | sort)
}

@test "split: --stratify per-label counts" {
    "$TSF" split --train t.tsf --val v.tsf --fraction 0.2 --stratify "$D/s30.tsf"
    assert_equal "$(labels v.tsf | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')" "0:2 1:2 2:2 "
    assert_equal "$(labels t.tsf | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')" "0:8 1:8 2:8 "
}

@test "split: --stratify rounds per label, not overall" {
    # 4 labels of 10 records: round(1.4) = 1 each, where round(0.14 * 40) would be 6
    "$TSF" split --train t.tsf --val v.tsf --fraction 0.14 --stratify "$D/s40.tsf"
    assert_equal "$(labels v.tsf | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')" "0:1 1:1 2:1 3:1 "
    "$TSF" split --train t.tsf --val v.tsf --fraction 0.14 "$D/s40.tsf"
    assert_equal "$(count_records v.tsf)" 6
}

@test "split: seed reproducible" {
    "$TSF" split --train t1.tsf --val v1.tsf --seed 11 -f 0.25 "$D/s40.tsf"
    "$TSF" split --train t2.tsf --val v2.tsf --seed 11 -f 0.25 "$D/s40.tsf"
    "$TSF" split --train t3.tsf --val v3.tsf --seed 12 -f 0.25 "$D/s40.tsf"
    diff <(keys v1.tsf) <(keys v2.tsf)
    diff <(keys t1.tsf) <(keys t2.tsf)
    [ "$(keys v1.tsf)" != "$(keys v3.tsf)" ]
}

@test "split: --fraction 0 and 1" {
    "$TSF" split --train t.tsf --val v.tsf --fraction 0 "$D/s30.tsf"
    assert_equal "$(count_records t.tsf) $(count_records v.tsf)" "30 0"
    "$TSF" split --train t.tsf --val v.tsf --fraction 1 "$D/s30.tsf"
    assert_equal "$(count_records t.tsf) $(count_records v.tsf)" "0 30"
    py_validate t.tsf v.tsf
}

@test "split: --stratify without the label field fails" {
    run --separate-stderr "$TSF" split --train t.tsf --val v.tsf --stratify -l nolabel "$D/s30.tsf"
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c nolabel)" 1
    [ ! -e t.tsf ] && [ ! -e v.tsf ]
}

@test "split: bad input leaves neither output" {
    printf 'garbage' >bad.tsf
    run --separate-stderr "$TSF" split --train t.tsf --val v.tsf bad.tsf
    assert_failure 1
    run ls -A
    assert_output "bad.tsf"
}

# --- sample -------------------------------------------------------------------------

@test "sample: --per-class exact counts" {
    "$TSF" sample --per-class 3 --seed 4 "$D/s40.tsf" >out.tsf
    py_validate out.tsf
    assert_equal "$(labels out.tsf | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')" "0:3 1:3 2:3 3:3 "
    diff <(keys out.tsf) <(keys out.tsf | sort)
}

@test "sample: --per-class is reproducible" {
    "$TSF" sample -k 2 --seed 9 "$D/s30.tsf" >a.tsf
    "$TSF" sample -k 2 --seed 9 "$D/s30.tsf" >b.tsf
    "$TSF" sample -k 2 --seed 10 "$D/s30.tsf" >c.tsf
    cmp a.tsf b.tsf
    [ "$(keys a.tsf)" != "$(keys c.tsf)" ]
}

@test "sample: --per-class too few" {
    run --separate-stderr "$TSF" sample --per-class 11 "$D/s30.tsf"
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c "label 0 has only 10 records")" 1
}

@test "sample: class absent from data" {
    py '
w = tsf.Writer(open("four.tsf", "wb"), {"kind": "samples", "classes": ["a", "b", "c", "d"]})
for i in range(12):
    w.write({"key": "k%d" % i, "label": np.int64(i % 3)})
w.end()
'
    run --separate-stderr "$TSF" sample --per-class 1 four.tsf
    assert_failure 1
    [[ "$stderr" == *3* ]] || fail "message does not name label 3: $stderr"
}

@test "sample: --count in input order" {
    "$TSF" sample --count 7 --seed 2 "$D/s40.tsf" >out.tsf
    assert_equal "$(count_records out.tsf)" 7
    diff <(keys out.tsf) <(keys out.tsf | sort)
    [ -z "$(comm -23 <(keys out.tsf) <(keys "$D/s40.tsf"))" ]
}

@test "sample: --count is reproducible" {
    "$TSF" sample -n 5 --seed 1 "$D/s30.tsf" >a.tsf
    "$TSF" sample -n 5 --seed 1 "$D/s30.tsf" >b.tsf
    cmp a.tsf b.tsf
}

@test "sample: --count more than the input fails" {
    run --separate-stderr "$TSF" sample --count 31 "$D/s30.tsf"
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c "only 30 records")" 1
}

@test "sample: --count equal to input" {
    "$TSF" sample --count 30 "$D/s30.tsf" >out.tsf
    diff <(records_dump "$D/s30.tsf") <(records_dump out.tsf)
}

# --- pipes and output errors --------------------------------------------------------

@test "pipe: cat into validate" {
    run --separate-stderr bash -c '"$TSF" cat <"$1" | "$TSF" validate' _ "$D/s30z.tsf"
    assert_success
    assert_output "stdin: ok: 1 stream, 30 records"
}

@test "pipe: a long pipeline keeps every record" {
    run --separate-stderr bash -c '"$TSF" cat -z "$1" | "$TSF" shuffle --seed 1 | "$TSF" take -s 2 |
        "$TSF" head -n 1000 | "$TSF" validate' _ "$D/s40.tsf"
    assert_success
    assert_output "stdin: ok: 1 stream, 38 records"
}

@test "pipe: a consumer that exits early" {
    run --separate-stderr timeout 20 bash -c '
        "$TSF" cat "$1" | head -c 100 >/dev/null
        echo "${PIPESTATUS[0]}"' _ "$D/big.tsf"
    assert_success
    assert_equal "$stderr" ""
    [ "$output" -ne 0 ] || fail "cat exited 0 after its consumer went away"
}

@test "pipe: writing to a full disk fails" {
    run --separate-stderr bash -c '"$TSF" cat "$1" >/dev/full' _ "$D/s30.tsf"
    assert_failure 1
    [ -n "$stderr" ]
    [[ "$stderr" == *"No space left"* ]] || fail "$stderr"
}

@test "pipe: -o onto a FIFO" {
    # an existing FIFO or device (think -o /dev/null) is written to, not renamed over
    mkfifo fifo
    timeout 10 cat fifo >got.tsf &
    reader=$!
    run --separate-stderr timeout 10 "$TSF" head -n 5 -o fifo "$D/s30.tsf"
    if [ ! -p fifo ]; then
        kill "$reader" 2>/dev/null || true
        fail "-o replaced the FIFO with a regular file"
    fi
    wait "$reader"
    assert_success
    assert_equal "$(count_records got.tsf)" 5
}

@test "pipe: upstream ABRT travels" {
    run --separate-stderr bash -c '
        "$PYTHON" -c "
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import tsf
w = tsf.Writer(sys.stdout.buffer, {\"kind\": \"samples\"})
for i in range(5):
    w.write({\"label\": np.int64(i)})
w.flush()
w.abort(\"disk on fire\")
" "$FORMATS" | "$TSF" cat | "$TSF" validate'
    assert_failure 1
    [[ "$stderr" == *"upstream aborted"* ]] || fail "$stderr"
    [[ "$stderr" == *"disk on fire"* ]] || fail "$stderr"
    refute_output --partial "ok"
}

@test "pipe: truncated upstream" {
    run --separate-stderr bash -c 'head -c 5000 "$1" | "$TSF" cat | "$TSF" validate' _ "$D/big.tsf"
    assert_failure 1
    [[ "$stderr" == *truncated* || "$stderr" == *"without an ENDS chunk"* ]] || fail "$stderr"
}

@test "pipe: upstream cut at chunk boundary" {
    # the stream header of s30 is followed by its first chunk: cutting there leaves no ENDS
    cut=$(py '
import struct
d = open(sys.argv[1], "rb").read()
print(tsf.align8(24 + struct.unpack_from("<I", d, 16)[0]))
' "$D/s30.tsf")
    run --separate-stderr bash -c 'head -c "$2" "$1" | "$TSF" head -n 5 | "$TSF" validate' _ "$D/s30.tsf" "$cut"
    assert_failure 1
    [[ "$stderr" == *"without an ENDS chunk"* ]] || fail "$stderr"
}

@test "pipe: empty upstream" {
    run --separate-stderr bash -c 'true | "$TSF" cat | "$TSF" validate'
    assert_failure 1
    [[ "$stderr" == *"empty input"* ]] || fail "$stderr"
}
