# Shared setup of the Bats suites: `load helpers` at the top of every .bats file.
#
# BIN is the folder of the programs under test (default: bin/ of this checkout) and PYTHON
# the interpreter that runs formats/tsf.py (default: Debian's, which has numpy). Streams are
# generated per test under BATS_TEST_TMPDIR, so no test depends on files in the tree.
# Left out: anything that needs a network host or a terminal.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
bats_require_minimum_version 1.5.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$(cd "${BIN:-$ROOT/bin}" && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
FORMATS=$ROOT/formats
TSF="$BIN/selfsup-tsf"
export ROOT BIN PYTHON FORMATS TSF

# py SNIPPET [ARG]...: run a Python snippet with formats/ on the import path.
py() {
    local code=$1
    shift
    PYTHONPATH="$FORMATS" "$PYTHON" -c "import sys, json, numpy as np, tsf
$code" "$@"
}

# make_samples FILE N [K] [zstd] [SEED]: write a samples stream of N records with fields
# key utf8 "s000000"..., image uint8 [4,4,1] (bytes derived from the index and SEED) and
# label int64 cycling over 0..K-1 (K defaults to 3); metadata contains kind, classes and a
# schema. The fourth argument "zstd" compresses the chunks. FILE "-" is standard output.
make_samples() {
    py '
path, n, k, codec, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
meta = {"kind": "samples", "classes": ["c%d" % i for i in range(k)],
        "schema": {"fields": [{"name": "key", "dtype": "utf8", "shape": [None]},
                              {"name": "image", "dtype": "uint8", "shape": [4, 4, 1]},
                              {"name": "label", "dtype": "int64", "shape": []}]}}
f = sys.stdout.buffer if path == "-" else open(path, "wb")
w = tsf.Writer(f, meta, codec=1 if codec == "zstd" else 0, chunk_target=4096, flush_after=1e9)
for i in range(n):
    img = ((np.arange(16, dtype=np.int64) * 7 + i * 13 + seed) % 256).astype(np.uint8).reshape(4, 4, 1)
    w.write({"key": "s%06d" % i, "image": img, "label": np.int64(i % k)})
w.end()
f.flush()
' "$1" "$2" "${3:-3}" "${4:-plain}" "${5:-0}"
}

# write_idx PATH EXPR [gz]: write the numpy array EXPR (np is available to it)
# as an IDX file, gzip-compressed with "gz".
write_idx() {
    py '
import gzip, struct
path, expr, gz = sys.argv[1], sys.argv[2], sys.argv[3]
a = np.asarray(eval(expr, {"np": np}))
code = {np.dtype("u1"): 8, np.dtype("i1"): 9, np.dtype("i2"): 11, np.dtype("i4"): 12,
        np.dtype("f4"): 13, np.dtype("f8"): 14}[a.dtype]
data = bytes([0, 0, code, a.ndim]) + struct.pack(">%dI" % a.ndim, *a.shape)
data += a.astype(a.dtype.newbyteorder(">")).tobytes()
(gzip.open if gz == "gz" else open)(path, "wb").write(data)
' "$1" "$2" "${3:-plain}"
}

# keys FILE: print the key field of every record, one per line, in stream order.
keys() {
    py 'for m, r in tsf.read(sys.argv[1]): print(r["key"])' "$1"
}

# labels FILE: print the label field of every record, one per line, in stream order.
labels() {
    py 'for m, r in tsf.read(sys.argv[1]): print(int(r["label"]))' "$1"
}

# count_records FILE: print the number of records of all streams of FILE.
count_records() {
    py 'print(sum(1 for _ in tsf.read(sys.argv[1])))' "$1"
}

# records_dump FILE: print every record (not the metadata) in full, one line each, so
# that two files with equal records give equal text.
records_dump() {
    py '
for m, r in tsf.read(sys.argv[1]):
    out = []
    for k, v in r.items():
        if isinstance(v, (str, bytes)):
            out.append("%s=%r" % (k, v))
        else:
            out.append("%s=%s%s:%s" % (k, v.dtype.descr, list(v.shape), v.tobytes().hex()))
    print(" ".join(out))
' "$1"
}

# chunk_tags FILE: print "TAG CODEC" for every chunk of every stream of FILE, read from the
# chunk headers without decoding, so a test can see which chunks are compressed.
chunk_tags() {
    py '
import struct
data, pos = open(sys.argv[1], "rb").read(), 0
while pos < len(data):
    meta_len = struct.unpack_from("<I", data, pos + 16)[0]
    pos += tsf.align8(24 + meta_len)
    while True:
        tag, codec = data[pos:pos + 4].decode(), data[pos + 4]
        stored = struct.unpack_from("<Q", data, pos + 16)[0]
        print(tag, codec)
        pos += 48 + tsf.align8(stored)
        if tag in ("ENDS", "ABRT"):
            break
' "$1"
}

# py_validate FILE...: validate with the Python reference reader (status 0 when valid).
py_validate() {
    "$PYTHON" "$FORMATS/tsf.py" validate "$@"
}

# expect_usage_error CMD...: CMD must exit 2 with a message on stderr and nothing on stdout.
expect_usage_error() {
    run --separate-stderr "$@"
    assert_equal "$status" 2
    assert_equal "$output" ""
    [ -n "$stderr" ] || fail "no message on stderr for: $*"
}
