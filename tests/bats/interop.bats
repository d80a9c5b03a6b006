#!/usr/bin/env bats
# The C tools and the Python reference (formats/tsf.py) read each other's streams: Python
# writes every dtype, rank and edge shape, plain and zstd; selfsup-tsf validates and
# rewrites them; Python checks that every field of every record survived bit for bit.

load helpers

setup_file() {
    D=$BATS_FILE_TMPDIR
    # Two streams: one without a schema holding every dtype, then one with a schema that has
    # optional fields, free dims and extra fields. Small chunks, so there are several.
    local gen='
path, codec = sys.argv[1], int(sys.argv[2])
def every_dtype(i):
    r = {
        "u8": np.arange(6, dtype=np.uint8).reshape(2, 3) + i,
        "i8": np.array([-128, 127, -1, i], np.int8),
        "u16": np.array([0, 65535, i], np.uint16),
        "i16": np.array([-32768, 32767, -i], np.int16),
        "u32": np.array([0, 4294967295, i], np.uint32),
        "i32": np.array([-2147483648, 2147483647, i], np.int32),
        "u64": np.array([0, 2**64 - 1, i], np.uint64),
        "i64": np.array([-2**63, 2**63 - 1, -i], np.int64),
        "f16": np.array([0.5, -0.0, np.inf, -np.inf, np.nan, 65504, 6e-8, i], np.float16),
        "bf16": tsf.float32_to_bfloat16(np.array([1.5, -2.25, 3e38, np.nan, i / 3], np.float32)),
        "f32": np.array([[1.25, -0.0], [np.float32(1e-45), np.nan], [np.inf, i]], np.float32),
        "f64": np.array([np.pi, -1e308, 5e-324, i], np.float64),
        "flag": np.array([True, False, i % 2 == 0]),
        "blob": bytes(range(i % 7 * 3)),
        "blob2d": np.frombuffer(bytes(range(6)), "V1").reshape(2, 3),
        "text": "récord %d ✓ 𝄞" % i,
        "empty_text": "",
        "scalar_f32": np.float32(i + 0.5),
        "scalar_i64": np.int64(-i),
        "scalar_bool": np.bool_(i % 3 == 0),
        "scalar_bf16": tsf.float32_to_bfloat16(np.full(1, i, np.float32)).reshape(()),
        "rank8": np.arange(2 * 1 * 2 * 1 * 1 * 2 * 1 * 2, dtype=np.int16).reshape(2, 1, 2, 1, 1, 2, 1, 2) * (i + 1),
        "empty0": np.zeros((0,), np.float32),
        "empty_mid": np.zeros((3, 0, 2), np.int32),
        "empty_rank8": np.zeros((1, 1, 1, 1, 1, 1, 1, 0), np.uint8),
        "varlen": np.arange(i % 5, dtype=np.float64),
    }
    if i % 4 == 1:
        r["big"] = np.arange(300, dtype=np.int32)   # larger than the chunk target
    return r
f = open(path, "wb")
meta = {"kind": "x-every-dtype", "x-note": "naïve ünïcode", "x-nested": {"a": [1, 2.5, None, True]}}
w = tsf.Writer(f, meta, codec=codec, chunk_target=512, flush_after=1e9)
for i in range(12):
    w.write(every_dtype(i))
w.end()
schema = {"fields": [{"name": "key", "dtype": "utf8", "shape": [None]},
                     {"name": "tokens", "dtype": "int32", "shape": [None]},
                     {"name": "label", "dtype": "int64", "shape": [], "optional": True}],
          "extra_fields": True}
w = tsf.Writer(f, {"kind": "tokens", "schema": schema}, codec=codec, chunk_target=256, flush_after=1e9)
for i in range(20):
    r = {"key": "t%d" % i, "tokens": np.arange(i, dtype=np.int32) - 5}
    if i % 2:
        r["label"] = np.int64(i)
    if i % 5 == 0:
        r["extra"] = np.float32(i)
    w.write(r)
w.end()
'
    py "$gen" "$D/py.tsf" 0
    py "$gen" "$D/pyz.tsf" 1
}

setup() {
    D=$BATS_FILE_TMPDIR
    mkdir "$BATS_TEST_TMPDIR/work"
    cd "$BATS_TEST_TMPDIR/work"
}

# same_records A B: Python reads both files; every record must have the same fields in
# the same order with equal dtype, shape and bytes, and the metadata the same keys
# (apart from producer and history, which a tool adds).
same_records() {
    py '
def norm(v):
    if isinstance(v, (str, bytes)):
        return type(v).__name__, v
    return str(v.dtype), v.shape, v.tobytes()
a, b = list(tsf.read(sys.argv[1])), list(tsf.read(sys.argv[2]))
assert len(a) == len(b), "%d records, then %d" % (len(a), len(b))
for n, ((ma, ra), (mb, rb)) in enumerate(zip(a, b)):
    assert list(ra) == list(rb), "record %d: fields %s, then %s" % (n, list(ra), list(rb))
    for k in ra:
        assert norm(ra[k]) == norm(rb[k]), "record %d field %s: %r, then %r" % (n, k, ra[k], rb[k])
    strip = lambda m: {k: v for k, v in m.items() if k not in ("producer", "history")}
    assert strip(ma) == strip(mb), "record %d: metadata %s, then %s" % (n, ma, mb)
' "$1" "$2"
}

@test "py->c: plain streams of every dtype validate" {
    run --separate-stderr "$TSF" validate "$D/py.tsf"
    assert_success
    assert_output --partial "ok: 2 streams, 32 records"
}

@test "py->c: zstd streams of every dtype validate" {
    run chunk_tags "$D/pyz.tsf"
    assert_line "DATA 1"
    run --separate-stderr "$TSF" validate "$D/pyz.tsf"
    assert_success
    assert_output --partial "ok: 2 streams, 32 records"
}

@test "py->c: info reads every dtype" {
    run --separate-stderr "$TSF" info "$D/pyz.tsf"
    assert_success
    assert_equal "$stderr" ""
    for f in u8:uint8 i8:int8 u16:uint16 i16:int16 u32:uint32 i32:int32 u64:uint64 i64:int64 \
        f16:float16 bf16:bfloat16 f32:float32 f64:float64 flag:bool blob:bytes text:utf8; do
        assert_line --regexp "^ +${f%%:*} +${f#*:} "
    done
    assert_line --regexp '^ +rank8 +int16 +\[2,1,2,1,1,2,1,2\] '
    assert_line --regexp '^ +empty_mid +int32 +\[3,0,2\]'
    assert_line --regexp '^ +varlen +float64 +\[0\.\.4\] '
    assert_line --partial "stream 1: kind tokens, 20 records"
}

@test "py->c: info --json is strict JSON" {
    # float fields hold inf and nan: JSON has no such numbers, so they must not leak out
    "$TSF" info --json "$D/pyz.tsf" >info.json
    py '
def strict(name):
    raise ValueError("non-standard JSON constant " + name)
lines = open("info.json").read().splitlines()
for n, line in enumerate(lines):
    try:
        json.loads(line, parse_constant=strict)
    except ValueError as e:
        sys.exit("line %d is not valid JSON: %s" % (n + 1, e))
s = [json.loads(l) for l in lines]
assert [x["records"] for x in s] == [12, 20], s
f = {x["name"]: x for x in s[0]["fields"]}
assert f["rank8"]["dims_min"] == [2, 1, 2, 1, 1, 2, 1, 2], f["rank8"]
assert f["empty_mid"]["dims_max"] == [3, 0, 2], f["empty_mid"]
assert f["big"]["records"] == 3, f["big"]
assert f["varlen"]["dims_min"] == [0] and f["varlen"]["dims_max"] == [4], f["varlen"]
assert f["scalar_i64"]["min"] == -11 and f["scalar_i64"]["max"] == 0, f["scalar_i64"]
'
}

@test "py->c: info float16/bfloat16 statistics" {
    # the help promises minimum, maximum, mean and deviation of numeric fields
    py '
w = tsf.Writer(open("half.tsf", "wb"), {"kind": "x-half"})
for i in range(4):
    v = np.array([i, i + 0.5], np.float32)
    w.write({"h": v.astype(np.float16), "b": tsf.float32_to_bfloat16(v)})
w.end()
'
    "$TSF" info --json half.tsf >info.json
    py '
f = {x["name"]: x for x in json.loads(open("info.json").read())["fields"]}
for name in "h", "b":
    assert f[name].get("min") == 0 and f[name].get("max") == 3.5, f[name]
    assert abs(f[name].get("mean", -1) - 1.75) < 1e-9, f[name]
'
}

@test "c->py: cat of a plain stream" {
    "$TSF" cat "$D/py.tsf" >out.tsf
    py_validate out.tsf
    same_records "$D/py.tsf" out.tsf
}

@test "c->py: cat -z of a plain stream" {
    "$TSF" cat -z "$D/py.tsf" >out.tsf
    run chunk_tags out.tsf
    assert_line "DATA 1"
    py_validate out.tsf
    same_records "$D/py.tsf" out.tsf
}

@test "c->py: cat decodes zstd" {
    "$TSF" cat "$D/pyz.tsf" >out.tsf
    run chunk_tags out.tsf
    refute_line "DATA 1"
    py_validate out.tsf
    same_records "$D/pyz.tsf" out.tsf
}

@test "c->py: cat -z of a zstd stream" {
    "$TSF" cat -z --level 19 "$D/pyz.tsf" >out.tsf
    py_validate out.tsf
    same_records "$D/pyz.tsf" out.tsf
}

@test "c->py: cat through a pipe, both codecs" {
    "$TSF" cat -z <"$D/py.tsf" | "$TSF" cat | "$TSF" cat -z >out.tsf
    same_records "$D/py.tsf" out.tsf
}

@test "c->py: head and take keep every field" {
    "$TSF" head -n 5 "$D/pyz.tsf" >h.tsf
    py_validate h.tsf
    py '
a = list(tsf.read(sys.argv[1]))[:5]
b = list(tsf.read(sys.argv[2]))
assert len(b) == 5 and all(list(x[1]) == list(y[1]) for x, y in zip(a, b))
assert all(x[1]["bf16"].tobytes() == y[1]["bf16"].tobytes() for x, y in zip(a, b))
' "$D/pyz.tsf" h.tsf
    "$TSF" take --skip 12 --count 20 "$D/py.tsf" >t.tsf
    py_validate t.tsf
    diff <(records_dump t.tsf) <(records_dump "$D/py.tsf" | tail -n 20)
}

@test "c->py: shuffle keeps every record" {
    "$TSF" head -n 12 "$D/py.tsf" | "$TSF" shuffle --seed 5 -z >s.tsf
    py_validate s.tsf
    diff <(records_dump s.tsf | sort) <(records_dump "$D/py.tsf" | head -n 12 | sort)
}

@test "c->py: C error reaches Python" {
    { cat "$D/py.tsf"; printf 'junk'; } >bad.tsf
    run --separate-stderr bash -c '"$TSF" cat bad.tsf | "$PYTHON" "$FORMATS/tsf.py" validate -'
    assert_failure 1
    [[ "$stderr" == *"upstream aborted"* ]] || fail "$stderr"
}

@test "c->py: -o output is read by Python" {
    "$TSF" cat -z -o out.tsf "$D/py.tsf"
    same_records "$D/py.tsf" out.tsf
}
