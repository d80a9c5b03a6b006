#!/usr/bin/env bats
# selfsup-tsf import and export as a user runs them: every import format (idx, png-dir,
# png-list, npy, text) and export format (png, grid, npy, csv) on small files the tests
# write themselves, usage errors, rejected input, round trips through both directions,
# and the real Fashion-MNIST training set when /usr/share/datasets/fashion-mnist exists.

load helpers

FASHION=/usr/share/datasets/fashion-mnist

setup() {
    mkdir "$BATS_TEST_TMPDIR/work"
    cd "$BATS_TEST_TMPDIR/work"
}

# write_png PATH H W C [DEPTH] [SEED]: write a PNG of H x W pixels with C channels (1 gray,
# 2 gray+alpha, 3 RGB, 4 RGBA) whose samples follow from SEED, with filter 0 on every row.
write_png() {
    py '
import struct, zlib
path, h, w, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
depth, seed = int(sys.argv[5]), int(sys.argv[6])
a = (np.arange(h * w * c, dtype=np.int64) * 37 + seed * 11) % (256 if depth == 8 else 65536)
a = a.astype(">u2" if depth == 16 else "u1").reshape(h, w * c)
raw = b"".join(b"\0" + row.tobytes() for row in a)
def chunk(tag, body):
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))
ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
open(path, "wb").write(png)
' "$1" "$2" "$3" "$4" "${5:-8}" "${6:-0}"
}

# png_header PATH: print "WIDTH HEIGHT DEPTH COLOR_TYPE" from the IHDR chunk of a PNG.
png_header() {
    py '
import struct
w, h, depth, ctype = struct.unpack(">IIBB", open(sys.argv[1], "rb").read()[16:26])
print(w, h, depth, ctype)
' "$1"
}

# meta FILE KEY: print metadata entry KEY of the first stream of FILE as JSON.
meta() {
    py '
for m, r in tsf.read(sys.argv[1]):
    break
print(json.dumps(m.get(sys.argv[2]), sort_keys=True))
' "$1" "$2"
}

# fields FILE: print "name dtype shape" for each field of the first record.
fields() {
    py '
for m, r in tsf.read(sys.argv[1]):
    for k, v in r.items():
        if isinstance(v, str):
            print(k, "utf8")
        else:
            print(k, "%s[%s]" % (v.dtype, ",".join(map(str, v.shape))))
    break
' "$1"
}

# small_idx: write 5 images of 3x4 pixels as tiny-images-idx3-ubyte.gz and their labels
# 0, 1, 2, 0, 1 as tiny-labels-idx1-ubyte.
small_idx() {
    write_idx tiny-images-idx3-ubyte.gz 'np.arange(60, dtype=np.uint8).reshape(5, 3, 4) * 4' gz
    write_idx tiny-labels-idx1-ubyte 'np.array([0, 1, 2, 0, 1], dtype=np.uint8)'
}

# png_tree: write a png-dir tree with classes cat (2 images) and dog (1 image), plus
# entries that import must skip.
png_tree() {
    mkdir -p tree/cat tree/dog tree/.hidden
    write_png tree/cat/b.png 3 5 1 8 1
    write_png tree/cat/a.png 3 5 1 8 2
    write_png tree/dog/x.png 3 5 1 8 3
    write_png tree/.hidden/h.png 3 5 1 8 4
    write_png tree/cat/.h.png 3 5 1 8 5
    echo "not an image" > tree/cat/notes.txt
    echo "top-level file" > tree/README
}

# --- usage errors ---------------------------------------------------------------------

@test "import: usage errors" {
    small_idx
    png_tree
    expect_usage_error "$TSF" import
    expect_usage_error "$TSF" import bogus x
    assert_equal "$(printf '%s' "$stderr" | grep -c "unknown format 'bogus'")" 1
    expect_usage_error "$TSF" import -o out.tsf idx tiny-images-idx3-ubyte.gz
    expect_usage_error "$TSF" import idx
    expect_usage_error "$TSF" import idx a b c
    expect_usage_error "$TSF" import idx --classes a,,b tiny-images-idx3-ubyte.gz tiny-labels-idx1-ubyte
    assert_equal "$(printf '%s' "$stderr" | grep -c "class name 1 is empty")" 1
    expect_usage_error "$TSF" import idx --classes a,b,a tiny-images-idx3-ubyte.gz tiny-labels-idx1-ubyte
    expect_usage_error "$TSF" import idx --classes a,b tiny-images-idx3-ubyte.gz
    expect_usage_error "$TSF" import png-dir --channels 5 tree
    expect_usage_error "$TSF" import png-dir --depth 12 tree
    expect_usage_error "$TSF" import png-dir --max-pixels 0 tree
    expect_usage_error "$TSF" import png-list
    expect_usage_error "$TSF" import npy --field key x.npy
    expect_usage_error "$TSF" import npy --labels y.npy --field label x.npy
    expect_usage_error "$TSF" import npy --field "" x.npy
    expect_usage_error "$TSF" import text
    expect_usage_error "$TSF" import text --no-such-option a.txt
}

@test "export: usage errors" {
    expect_usage_error "$TSF" export
    expect_usage_error "$TSF" export bogus out
    assert_equal "$(printf '%s' "$stderr" | grep -c "unknown format 'bogus'")" 1
    expect_usage_error "$TSF" export png
    expect_usage_error "$TSF" export png d in.tsf extra
    expect_usage_error "$TSF" export png --count -1 d in.tsf
    expect_usage_error "$TSF" export grid --scale 0 g.png in.tsf
    expect_usage_error "$TSF" export grid --count 0 g.png in.tsf
    expect_usage_error "$TSF" export grid --cols 0 g.png in.tsf
    expect_usage_error "$TSF" export npy --labels same.npy same.npy in.tsf
    expect_usage_error "$TSF" export csv --fields a,,b - in.tsf
    expect_usage_error "$TSF" export csv --fields a,b,a - in.tsf
    [ ! -e d ] && [ ! -e g.png ] && [ ! -e same.npy ]
}

@test "import and export: --help per format" {
    for f in idx png-dir png-list npy text; do
        run --separate-stderr "$TSF" import "$f" --help
        assert_success
        assert_line --index 0 --partial "Usage: selfsup-tsf import $f "
    done
    for f in png grid npy csv; do
        run --separate-stderr "$TSF" export "$f" --help
        assert_success
        assert_line --index 0 --partial "Usage: selfsup-tsf export $f "
    done
    run "$TSF" import idx --help
    assert_output --partial '"train-images:0"'
}

# --- import idx -------------------------------------------------------------------------

@test "import idx: gzip images, plain labels" {
    small_idx
    run "$TSF" import idx -o out.tsf tiny-images-idx3-ubyte.gz tiny-labels-idx1-ubyte
    assert_success
    assert_output ""
    run "$TSF" validate out.tsf
    assert_output "out.tsf: ok: 1 stream, 5 records"
    run keys out.tsf
    assert_output "$(printf 'tiny-images:%d\n' 0 1 2 3 4)"
    run labels out.tsf
    assert_output "$(printf '%d\n' 0 1 2 0 1)"
    run fields out.tsf
    assert_line "image uint8[3,4,1]"
    assert_line "label int64[]"
    assert_equal "$(meta out.tsf kind)" '"samples"'
    assert_equal "$(meta out.tsf classes)" "null"
    assert_equal "$(meta out.tsf producer | grep -c '"tool": "selfsup-tsf import"')" 1
}

@test "import idx: images without labels" {
    small_idx
    "$TSF" import idx tiny-images-idx3-ubyte.gz > out.tsf
    run fields out.tsf
    assert_output "$(printf 'key utf8\nimage uint8[3,4,1]')"
}

@test "import idx: class lists and the range check" {
    small_idx
    "$TSF" import idx --classes x,y,z -o out.tsf tiny-images-idx3-ubyte.gz tiny-labels-idx1-ubyte
    assert_equal "$(meta out.tsf classes)" '["x", "y", "z"]'
    "$TSF" import idx --classes mnist -o digits.tsf tiny-images-idx3-ubyte.gz tiny-labels-idx1-ubyte
    assert_equal "$(meta digits.tsf classes)" '["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]'
    cp tiny-images-idx3-ubyte.gz my-Fashion-images-idx3-ubyte.gz
    "$TSF" import idx -o auto.tsf my-Fashion-images-idx3-ubyte.gz tiny-labels-idx1-ubyte
    assert_equal "$(meta auto.tsf classes | grep -c '"T-shirt/top", "Trouser"')" 1
    run keys auto.tsf
    assert_line --index 0 "my-Fashion-images:0"
    "$TSF" import idx --classes none -o none.tsf my-Fashion-images-idx3-ubyte.gz tiny-labels-idx1-ubyte
    assert_equal "$(meta none.tsf classes)" "null"

    run --separate-stderr "$TSF" import idx --classes x,y -o bad.tsf tiny-images-idx3-ubyte.gz tiny-labels-idx1-ubyte
    assert_failure 1
    assert_equal "$stderr" "selfsup-tsf import: tiny-labels-idx1-ubyte: label 2 is 2, outside the 2 classes (0 to 1); check --classes"
    [ ! -e bad.tsf ]
    [ -z "$(ls -A | grep tmp)" ]
}

@test "import idx: failure on stdout writes ABRT" {
    small_idx
    run --separate-stderr bash -c "'$TSF' import idx --classes x,y tiny-images-idx3-ubyte.gz tiny-labels-idx1-ubyte > out.tsf"
    assert_failure 1
    run --separate-stderr "$TSF" validate out.tsf
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c 'label 2 is 2')" 1
}

@test "import idx: label count mismatch" {
    small_idx
    write_idx four-labels 'np.array([0, 1, 2, 0], dtype=np.uint8)'
    run --separate-stderr "$TSF" import idx -o out.tsf tiny-images-idx3-ubyte.gz four-labels
    assert_failure 1
    assert_equal "$stderr" "selfsup-tsf import: tiny-images-idx3-ubyte.gz has 5 images but four-labels has 4 labels; the counts must match"
    [ ! -e out.tsf ]
}

@test "import idx: image dtype and rank" {
    write_idx ints 'np.zeros((2, 3, 3), dtype=np.int32)'
    run --separate-stderr "$TSF" import idx -o out.tsf ints
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c 'ints: IDX element type 0x0C is not uint8')" 1
    write_idx flat 'np.zeros((2, 9), dtype=np.uint8)'
    run --separate-stderr "$TSF" import idx -o out.tsf flat
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c 'flat: IDX images must have 3 dims')" 1
    write_idx rgb 'np.arange(2 * 2 * 3 * 3, dtype=np.uint8).reshape(2, 2, 3, 3)'
    "$TSF" import idx -o rgb.tsf rgb
    run fields rgb.tsf
    assert_line "image uint8[2,3,3]"
    run keys rgb.tsf
    assert_line --index 1 "rgb:1"
    run --separate-stderr "$TSF" import idx -o out.tsf no-such-file
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c 'no-such-file')" 1
}

@test "import idx: int8 and int32 labels" {
    write_idx imgs 'np.zeros((3, 2, 2), dtype=np.uint8)'
    write_idx l8 'np.array([-1, 5, 7], dtype=np.int8)'
    write_idx l32 'np.array([100000, 0, 3], dtype=np.int32)'
    "$TSF" import idx -o a.tsf imgs l8
    "$TSF" import idx -o b.tsf imgs l32
    assert_equal "$(labels a.tsf | tr '\n' ' ')" "-1 5 7 "
    assert_equal "$(labels b.tsf | tr '\n' ' ')" "100000 0 3 "
}

@test "import idx: round trip to npy" {
    write_idx imgs-idx3-ubyte.gz '(np.arange(7 * 5 * 6) * 13 % 256).astype(np.uint8).reshape(7, 5, 6)' gz
    write_idx labs-idx1-ubyte 'np.array([3, 1, 4, 1, 5, 9, 2], dtype=np.uint8)'
    "$TSF" import idx -z imgs-idx3-ubyte.gz labs-idx1-ubyte | "$TSF" export npy --labels y.npy x.npy
    py '
x, y = np.load("x.npy"), np.load("y.npy")
want = (np.arange(7 * 5 * 6) * 13 % 256).astype(np.uint8).reshape(7, 5, 6, 1)
assert x.dtype == np.uint8 and x.shape == (7, 5, 6, 1), (x.dtype, x.shape)
assert (x == want).all()
assert y.dtype == np.int64 and y.tolist() == [3, 1, 4, 1, 5, 9, 2], y
'
}

@test "import idx: Fashion-MNIST training set" {
    [ -d "$FASHION" ] || skip "no $FASHION"
    start=$(date +%s.%N)
    "$TSF" import idx -o train.tsf "$FASHION/train-images-idx3-ubyte.gz" "$FASHION/train-labels-idx1-ubyte.gz"
    end=$(date +%s.%N)
    run "$TSF" validate train.tsf
    assert_output "train.tsf: ok: 1 stream, 60000 records"
    assert_equal "$(meta train.tsf classes)" '["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]'
    "$TSF" head -n 1 -o first.tsf train.tsf
    run keys first.tsf
    assert_output "train-images:0"
    # About 0.25 s on one core of the development machine; the bound leaves room for
    # sanitizer builds and busy machines while still catching per-record reads.
    py 'import sys; t = float(sys.argv[2]) - float(sys.argv[1]); assert t < 5, t' "$start" "$end"
}

# --- import png-dir and png-list --------------------------------------------------------

@test "import png-dir: classes, labels, keys" {
    png_tree
    run --separate-stderr "$TSF" import png-dir -v -o out.tsf tree
    assert_success
    assert_equal "$(printf '%s' "$stderr" | grep -c "notes.txt': not a .png file")" 1
    assert_equal "$(meta out.tsf classes)" '["cat", "dog"]'
    run keys out.tsf
    assert_output "$(printf 'cat/a.png\ncat/b.png\ndog/x.png')"
    run labels out.tsf
    assert_output "$(printf '0\n0\n1')"
    run fields out.tsf
    assert_line "image uint8[3,5,1]"
    run "$TSF" validate out.tsf
    assert_success
}

@test "import png-dir: export png round trip" {
    png_tree
    "$TSF" import png-dir -o a.tsf tree
    "$TSF" export png --by-key out a.tsf
    run ls out
    assert_output "$(printf 'cat_a.png\ncat_b.png\ndog_x.png')"
    printf '%s\n' out/cat_a.png out/cat_b.png out/dog_x.png | "$TSF" import png-list -o b.tsf -
    "$TSF" export npy a.npy a.tsf
    "$TSF" export npy b.npy b.tsf
    cmp a.npy b.npy
    py '
a = np.load("a.npy")
assert a.shape == (3, 3, 5, 1), a.shape
want = ((np.arange(15) * 37 + 2 * 11) % 256).astype(np.uint8).reshape(3, 5, 1)
assert (a[0] == want).all()
'
}

@test "import png-dir: 16-bit RGB round trip" {
    mkdir -p t16/only
    write_png t16/only/p.png 4 3 3 16 7
    "$TSF" import png-dir --depth 16 -o a.tsf t16
    run fields a.tsf
    assert_line "image uint16[4,3,3]"
    "$TSF" export png out a.tsf
    assert_equal "$(png_header out/000000.png)" "3 4 16 2"
    "$TSF" import png-list --depth 16 -o b.tsf <(echo out/000000.png)
    "$TSF" export npy a.npy a.tsf
    "$TSF" export npy b.npy b.tsf
    cmp a.npy b.npy
    py '
a = np.load("a.npy")
want = ((np.arange(36) * 37 + 7 * 11) % 65536).astype(np.uint16).reshape(4, 3, 3)
assert a.dtype == np.uint16 and (a[0] == want).all()
'
}

@test "import png-dir: channel counts must agree" {
    mkdir -p mix/a mix/b
    write_png mix/a/gray.png 2 2 1
    write_png mix/b/rgb.png 2 2 3
    run --separate-stderr "$TSF" import png-dir -o out.tsf mix
    assert_failure 1
    assert_equal "$stderr" "selfsup-tsf import: mix/b/rgb.png: has 3 channels but mix/a/gray.png has 1; use --channels N to convert every image to N channels"
    [ ! -e out.tsf ]
    "$TSF" import png-dir --channels 3 -o out.tsf mix
    run fields out.tsf
    assert_line "image uint8[2,2,3]"
}

@test "import png-dir: corrupt PNG names the file" {
    png_tree
    head -c 40 tree/cat/b.png > tree/dog/y.png
    run --separate-stderr "$TSF" import png-dir -o out.tsf tree
    assert_failure 1
    assert_output ""
    assert_equal "$(printf '%s' "$stderr" | grep -c 'tree/dog/y.png')" 1
    [ ! -e out.tsf ]
    [ -z "$(ls -A | grep tmp)" ]
    # On standard output the stream ends with ABRT, so the next stage fails too.
    "$TSF" import png-dir tree > piped.tsf 2>/dev/null || true
    run --separate-stderr "$TSF" validate piped.tsf
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c 'tree/dog/y.png')" 1
    # Also when the first file read is the corrupt one.
    mkdir -p only/c
    cp tree/dog/y.png only/c/z.png
    "$TSF" import png-dir only > first.tsf 2>/dev/null || true
    run --separate-stderr "$TSF" validate first.tsf
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c 'upstream aborted: .*only/c/z.png')" 1
}

@test "import png-dir: no class folders" {
    mkdir flat
    write_png flat/a.png 2 2 1
    run --separate-stderr "$TSF" import png-dir -o out.tsf flat
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c 'flat: no class folders found')" 1
}

@test "import png-list: paths become keys" {
    write_png one.png 2 3 1
    write_png two.png 4 1 1
    printf 'one.png\n\ntwo.png\r\n' > list.txt
    "$TSF" import png-list -o out.tsf list.txt
    run keys out.tsf
    assert_output "$(printf 'one.png\ntwo.png')"
    assert_equal "$(meta out.tsf classes)" "null"
    run fields out.tsf
    refute_line --partial "label"
    printf 'one.png\nmissing.png\n' > bad-list.txt
    run --separate-stderr "$TSF" import png-list -o bad.tsf - < bad-list.txt
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c 'missing.png')" 1
    [ ! -e bad.tsf ]
}

# --- import npy ---------------------------------------------------------------------------

@test "import npy: field names and labels" {
    py '
np.save("u8.npy", np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
np.save("emb.npy", np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4))
np.save("x.npy", np.arange(6, dtype=np.int16).reshape(3, 2))
np.save("y.npy", np.array([2, 0, 1], dtype=np.int32))
'
    "$TSF" import npy -o u8.tsf u8.npy
    run fields u8.tsf
    assert_output "$(printf 'key utf8\nimage uint8[3,4]')"
    run keys u8.tsf
    assert_output "$(printf 'u8:0\nu8:1')"
    "$TSF" import npy --labels y.npy -o emb.tsf emb.npy
    run fields emb.tsf
    assert_output "$(printf 'key utf8\nembedding float32[4]\nlabel int64[]')"
    assert_equal "$(labels emb.tsf | tr '\n' ' ')" "2 0 1 "
    "$TSF" import npy --field values -o x.tsf x.npy
    run fields x.tsf
    assert_line "values int16[2]"
    "$TSF" import npy -o x2.tsf x.npy
    run fields x2.tsf
    assert_line "x int16[2]"
    "$TSF" export npy --field embedding back.npy emb.tsf
    py 'assert (np.load("back.npy") == np.load("emb.npy")).all()'
}

@test "import npy: bad counts and truncation" {
    py '
np.save("x.npy", np.zeros((4, 3), np.float32))
np.save("y.npy", np.zeros(3, np.int64))
np.save("yf.npy", np.zeros(4, np.float32))
data = open("x.npy", "rb").read()
open("short.npy", "wb").write(data[:-5])
open("long.npy", "wb").write(data + b"\0")
'
    run --separate-stderr "$TSF" import npy --labels y.npy -o out.tsf x.npy
    assert_failure 1
    assert_equal "$stderr" "selfsup-tsf import: x.npy has 4 records but y.npy has 3 labels; the counts must match"
    run --separate-stderr "$TSF" import npy --labels yf.npy -o out.tsf x.npy
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c 'yf.npy: labels must be a 1-d integer array')" 1
    run --separate-stderr "$TSF" import npy -o out.tsf short.npy
    assert_failure 1
    assert_equal "$stderr" "selfsup-tsf import: short.npy: the data ends early, at record 3 of 4"
    run --separate-stderr "$TSF" import npy -o out.tsf long.npy
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c 'long.npy: unexpected bytes after the last record')" 1
    [ ! -e out.tsf ]
}

# --- import text --------------------------------------------------------------------------

@test "import text: one record per line" {
    printf 'first line\r\n\nthird, "quoted"\nlast without newline' > in.txt
    "$TSF" import text -o out.tsf in.txt
    run keys out.tsf
    assert_output "$(printf 'in.txt:%d\n' 1 2 3 4)"
    run py 'for m, r in tsf.read(sys.argv[1]): print(repr(r["text"]))' out.tsf
    assert_output "$(printf "'first line'\n''\n'third, \"quoted\"'\n'last without newline'")"
    assert_equal "$(meta out.tsf kind)" '"text"'
    "$TSF" import text --skip-empty -o skip.tsf in.txt
    run keys skip.tsf
    assert_output "$(printf 'in.txt:1\nin.txt:3\nin.txt:4')"
    printf 'a\nb\n' | "$TSF" import text - > stdin.tsf
    run keys stdin.tsf
    assert_output "$(printf 'stdin:1\nstdin:2')"
}

@test "import text: invalid UTF-8 names the line" {
    printf 'good\nbad \xff byte\n' > bad.txt
    run --separate-stderr "$TSF" import text -o out.tsf bad.txt
    assert_failure 1
    assert_equal "$stderr" "selfsup-tsf import: bad.txt:2: invalid UTF-8 at byte 5 of the line"
    [ ! -e out.tsf ]
}

# --- export -------------------------------------------------------------------------------

@test "export png: numbered files and --count" {
    small_idx
    "$TSF" import idx -o in.tsf tiny-images-idx3-ubyte.gz tiny-labels-idx1-ubyte
    "$TSF" export png pngs in.tsf
    run ls pngs
    assert_output "$(printf '%06d.png\n' 0 1 2 3 4)"
    assert_equal "$(png_header pngs/000004.png)" "4 3 8 0"
    "$TSF" export png -n 2 deep/er/two < in.tsf
    run ls deep/er/two
    assert_output "$(printf '000000.png\n000001.png')"
    py '
np.save("gray.npy", np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
'
    "$TSF" import npy --field image gray.npy | "$TSF" export png g
    assert_equal "$(png_header g/000001.png)" "3 2 8 0"
}

@test "export png: non-image fields and duplicate keys" {
    printf 'a\n' > t.txt
    "$TSF" import text -o t.tsf t.txt
    run --separate-stderr "$TSF" export png --field text out t.tsf
    assert_failure 1
    assert_equal "$stderr" "selfsup-tsf export: t.tsf: record 0: field 'text' is utf8 [1], not an image (expected uint8 or uint16 with shape [H,W,C], C from 1 to 4, or [H,W])"
    run --separate-stderr "$TSF" export png out t.tsf
    assert_failure 1
    assert_equal "$stderr" "selfsup-tsf export: t.tsf: record 0 has no field 'image'"
    mkdir -p tree/a_b tree/a
    write_png tree/a_b/c.png 2 2 1
    write_png tree/a/b_c.png 2 2 1
    "$TSF" import png-dir -o dup.tsf tree
    run --separate-stderr "$TSF" export png --by-key keyed dup.tsf
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c "record 1: file name 'a_b_c.png' was already written")" 1
}

@test "export grid: layout, scale and RGB" {
    small_idx
    "$TSF" import idx -o in.tsf tiny-images-idx3-ubyte.gz tiny-labels-idx1-ubyte
    # 5 images of 4x3 in 3 columns and 2 rows with 2 pixels of padding.
    "$TSF" export grid g.png in.tsf
    assert_equal "$(png_header g.png)" "20 12 8 0"
    "$TSF" export grid --scale 2 --pad 0 --cols 5 -n 4 g2.png < in.tsf
    assert_equal "$(png_header g2.png)" "40 6 8 0"
    mkdir -p rgb/c
    write_png rgb/c/a.png 2 2 3
    write_png rgb/c/b.png 2 2 3 8 5
    "$TSF" import png-dir -o rgb.tsf rgb
    "$TSF" export grid --pad 1 --fill 0 rgb.png rgb.tsf
    assert_equal "$(png_header rgb.png)" "7 4 8 2"
    # The pixels of the first image sit at (1, 1): read them back through png-list.
    "$TSF" import png-list -o sheet.tsf <(echo rgb.png)
    "$TSF" export npy sheet.npy sheet.tsf
    py '
s = np.load("sheet.npy")[0]
want = ((np.arange(12) * 37) % 256).astype(np.uint8).reshape(2, 2, 3)
assert (s[1:3, 1:3] == want).all(), s
assert (s[0] == 0).all()
'
}

@test "export grid: mixed image sizes" {
    mkdir -p sizes/c
    write_png sizes/c/a.png 2 2 1
    write_png sizes/c/b.png 3 2 1
    "$TSF" import png-dir -o s.tsf sizes
    run --separate-stderr "$TSF" export grid g.png s.tsf
    assert_failure 1
    assert_equal "$stderr" "selfsup-tsf export: s.tsf: record 1: image is 2x3 at depth 8 but the first is 2x2 at depth 8; a grid needs images of one size and depth"
    [ ! -e g.png ]
}

@test "export npy: shape mismatch names the record" {
    mkdir -p sizes/c
    write_png sizes/c/a.png 2 2 1
    write_png sizes/c/b.png 3 2 1
    "$TSF" import png-dir -o s.tsf sizes
    run --separate-stderr "$TSF" export npy --labels y.npy x.npy s.tsf
    assert_failure 1
    assert_equal "$stderr" "selfsup-tsf export: s.tsf: record 1: field 'image' is uint8 [3,2,1] but in record 0 it is uint8 [2,2,1]; a .npy array needs one dtype and shape"
    [ ! -e x.npy ] && [ ! -e y.npy ]
    [ -z "$(ls -A | grep tmp)" ] || fail "temporary files left behind: $(ls -A)"
}

@test "export npy: utf8 field and empty input" {
    printf 'a\n' > t.txt
    "$TSF" import text -o t.tsf t.txt
    run --separate-stderr "$TSF" export npy --field text x.npy t.tsf
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c "x.npy: field 'text' is utf8 \[1\], which a .npy array cannot hold")" 1
    : > empty.txt
    "$TSF" import text -o e.tsf empty.txt
    run --separate-stderr "$TSF" export npy --field text x.npy e.tsf
    assert_failure 1
    assert_equal "$(printf '%s' "$stderr" | grep -c 'the input has no records')" 1
    [ ! -e x.npy ]
}

@test "export csv: columns, quoting and numbers" {
    py '
np.save("e.npy", np.array([[0.1, -2.5], [1e-8, 3.0]], dtype=np.float32))
np.save("y.npy", np.array([7, -1], dtype=np.int64))
'
    "$TSF" import npy --labels y.npy -o e.tsf e.npy
    run "$TSF" export csv - e.tsf
    assert_success
    assert_output "$(printf 'key,embedding_0,embedding_1,label\n"e:0",0.100000001,-2.5,7\n"e:1",9.99999994e-09,3,-1')"
    "$TSF" export csv --fields label,key out.csv e.tsf
    assert_equal "$(cat out.csv)" "$(printf 'label,key\n7,"e:0"\n-1,"e:1"')"
    printf 'say "hi", ok\n' > t.txt
    run bash -c "'$TSF' import text t.txt | '$TSF' export csv --fields text -"
    assert_output "$(printf 'text\n"say ""hi"", ok"')"
    py '
import csv
rows = list(csv.reader(open("out.csv")))
assert rows == [["label", "key"], ["7", "e:0"], ["-1", "e:1"]], rows
'
}

@test "export csv: missing field" {
    "$TSF" import text -o t.tsf <(printf 'a\n')
    run --separate-stderr "$TSF" export csv --fields text,nope out.csv t.tsf
    assert_failure 1
    assert_equal "$stderr" "selfsup-tsf export: t.tsf: record 0 has no field 'nope' (given in --fields)"
    [ ! -e out.csv ]
    [ -z "$(ls -A | grep tmp)" ]
}

@test "export: truncated stream fails every format" {
    small_idx
    "$TSF" import idx -o in.tsf tiny-images-idx3-ubyte.gz tiny-labels-idx1-ubyte
    head -c $(( $(stat -c %s in.tsf) - 30 )) in.tsf > cut.tsf
    for args in "npy x.npy" "grid g.png" "csv c.csv" "png -n 1 dir"; do
        run --separate-stderr "$TSF" export $args cut.tsf
        assert_failure 1
        [ -n "$stderr" ] || fail "no message for export $args"
    done
    [ ! -e x.npy ] && [ ! -e g.png ] && [ ! -e c.csv ]
    [ -z "$(ls -A | grep tmp)" ]
}

@test "export: upstream ABRT fails" {
    small_idx
    run --separate-stderr bash -c "'$TSF' import idx --classes x tiny-images-idx3-ubyte.gz tiny-labels-idx1-ubyte | '$TSF' export npy x.npy"
    assert_failure 1
    [ ! -e x.npy ]
}
