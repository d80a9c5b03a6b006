#!/usr/bin/env bats
# selfsup-embed as a user runs it: option handling, the embeddings stream and its width
# at each --layer, keys and labels, --raw, a convolution checked against NumPy, bad
# input, and results that do not depend on --threads or --batch. The checkpoint is a
# tiny one-conv network pretrained for a few steps on 8x8 gray patterns.

load helpers

EMB="$BIN/selfsup-embed"
ENC=conv3x3:4,relu,maxpool2,linear:16
HEAD=linear:16,relu,linear:8

# make_patterns FILE N SEED [nolabel]: write a samples stream of N gray 8x8 images over
# four classes: one pattern per class plus uniform noise. "nolabel" leaves label out.
make_patterns() {
    py '
path, n, seed, labelled = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] != "nolabel"
rng = np.random.default_rng(seed)
yy, xx = np.mgrid[0:8, 0:8]
patterns = [xx < 4, yy < 4, (xx + yy) % 2 == 0, (xx // 2 + yy // 2) % 2 == 0]
w = tsf.Writer(open(path, "wb"), {"kind": "samples", "classes": ["left", "top", "check", "check2"]},
               chunk_target=2048)
for i in range(n):
    img = patterns[(i * 3) % 4] * 200 + rng.integers(0, 40, size=(8, 8))
    r = {"key": "e%04d" % i, "image": img.astype(np.uint8).reshape(8, 8, 1)}
    if labelled:
        r["label"] = np.int64((i * 3) % 4)
    w.write(r)
w.end()
' "$1" "$2" "$3" "${4:-labelled}"
}

# embedding_shape FILE: print "N D" of the embeddings stream FILE.
embedding_shape() {
    py '
e = np.array([r["embedding"] for m, r in tsf.read(sys.argv[1])])
print(*e.shape)
' "$1"
}

# max_diff A B: print the largest absolute difference between the embeddings of A and B.
max_diff() {
    py '
a = np.array([r["embedding"] for m, r in tsf.read(sys.argv[1])])
b = np.array([r["embedding"] for m, r in tsf.read(sys.argv[2])])
assert a.shape == b.shape, (a.shape, b.shape)
print("%.3g" % np.abs(a - b).max())
' "$1" "$2"
}

setup_file() {
    D=$BATS_FILE_TMPDIR
    make_patterns "$D/s.tsf" 50 1
    make_patterns "$D/nolabel.tsf" 10 2 nolabel
    "$BIN/selfsup-augment" --seed 2 --epochs 2 "$D/s.tsf" |
        "$BIN/selfsup-pretrain" simclr -o "$D/ck.tsf" --encoder "$ENC" --head "$HEAD" \
            --batch 10 --steps 6 --warmup 1 --lr 0.01 --threads 1
}

setup() {
    D=$BATS_FILE_TMPDIR
    mkdir "$BATS_TEST_TMPDIR/work"
    cd "$BATS_TEST_TMPDIR/work"
}

# --- options --------------------------------------------------------------------------

@test "embed: --help and --version" {
    run --separate-stderr "$EMB" --help
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 "Usage: selfsup-embed (-c CHECKPOINT | --raw) [OPTION]... [SAMPLES]"
    assert_output --partial "--layer WHICH"
    run --separate-stderr "$EMB" --version
    assert_success
    assert_output --regexp '^selfsup-embed [0-9]+\.[0-9]+'
}

@test "embed: usage errors exit 2 with empty stdout" {
    local s=$D/s.tsf
    expect_usage_error "$EMB" "$s"
    expect_usage_error "$EMB" -c "$D/ck.tsf" --raw "$s"
    expect_usage_error "$EMB" -c "$D/ck.tsf" --layer bogus "$s"
    expect_usage_error "$EMB" -c "$D/ck.tsf" --layer 0 "$s"
    expect_usage_error "$EMB" -c "$D/ck.tsf" --layer 99 "$s"
    expect_usage_error "$EMB" -c "$D/ck.tsf" --batch 0 "$s"
    expect_usage_error "$EMB" -c "$D/ck.tsf" --threads 0 "$s"
    expect_usage_error "$EMB" -c "$D/ck.tsf" --frobnicate "$s"
    run --separate-stderr "$EMB" "$s"
    [[ "$stderr" == *"-c"* ]] || fail "$stderr"
    run --separate-stderr "$EMB" -c "$D/ck.tsf" --raw "$s"
    [[ "$stderr" == *"--raw"* ]] || fail "$stderr"
}

@test "embed: a missing checkpoint fails" {
    run --separate-stderr "$EMB" -c missing.tsf "$D/s.tsf"
    assert_failure 1
    assert_equal "$output" ""
    [[ "$stderr" == *"missing.tsf"* ]] || fail "$stderr"
}

@test "embed: a checkpoint with a repeated tensor fails" {
    # The last tensor is replaced by a copy of the first: the count is right,
    # but one tensor appears twice and another is missing.
    "$PYTHON" -c '
import sys
sys.path.insert(0, sys.argv[3])
import tsf
records = list(tsf.read(open(sys.argv[1], "rb")))
meta = records[0][0]
rows = [r for _, r in records]
rows[-1] = rows[0]
with open(sys.argv[2], "wb") as f:
    w = tsf.Writer(f, meta)
    for r in rows:
        w.write(r)
    w.end()
' "$D/ck.tsf" dup.tsf "$FORMATS"
    run --separate-stderr "$EMB" -c dup.tsf "$D/s.tsf"
    assert_failure 1
    assert_equal "$output" ""
    [[ "$stderr" == *"appears twice"* ]] || fail "$stderr"
}

# --- what it writes -------------------------------------------------------------------

@test "embed: the default layer is the encoder output" {
    "$EMB" -c "$D/ck.tsf" "$D/s.tsf" >e.tsf
    py_validate e.tsf
    "$TSF" validate e.tsf
    assert_equal "$(embedding_shape e.tsf)" "50 16"
    py '
m = next(tsf.Reader(open(sys.argv[1], "rb")).streams())[0]
assert m["kind"] == "embeddings", m["kind"]
assert m["classes"] == ["left", "top", "check", "check2"], m.get("classes")
for mm, r in tsf.read(sys.argv[1]):
    assert r["embedding"].dtype == np.float32 and np.isfinite(r["embedding"]).all()
' e.tsf
    "$EMB" -c "$D/ck.tsf" --layer encoder "$D/s.tsf" >named.tsf
    assert_equal "$(records_dump named.tsf)" "$(records_dump e.tsf)"
}

@test "embed: keys and labels pass through in order" {
    "$EMB" -c "$D/ck.tsf" "$D/s.tsf" >e.tsf
    assert_equal "$(keys e.tsf)" "$(keys "$D/s.tsf")"
    assert_equal "$(labels e.tsf)" "$(labels "$D/s.tsf")"
}

@test "embed: records without labels give embeddings without labels" {
    "$EMB" -c "$D/ck.tsf" "$D/nolabel.tsf" >e.tsf
    assert_equal "$(keys e.tsf)" "$(keys "$D/nolabel.tsf")"
    py '
for m, r in tsf.read(sys.argv[1]):
    assert "label" not in r, r
' e.tsf
}

@test "embed: reads standard input and writes -o" {
    "$EMB" -c "$D/ck.tsf" "$D/s.tsf" >e.tsf
    "$EMB" -c "$D/ck.tsf" -o out.tsf <"$D/s.tsf"
    assert_equal "$(records_dump out.tsf)" "$(records_dump e.tsf)"
}

@test "embed: --layer output gives the width of the head" {
    "$EMB" -c "$D/ck.tsf" --layer output "$D/s.tsf" >e.tsf
    assert_equal "$(embedding_shape e.tsf)" "50 8"
}

@test "embed: --layer N counts the layers of encoder and head together" {
    # conv3x3:4 keeps 8x8, so layer 1 has 4*8*8 values; maxpool2 (layer 3) leaves 4*4*4.
    "$EMB" -c "$D/ck.tsf" --layer 1 "$D/s.tsf" >l1.tsf
    assert_equal "$(embedding_shape l1.tsf)" "50 256"
    "$EMB" -c "$D/ck.tsf" --layer 3 "$D/s.tsf" >l3.tsf
    assert_equal "$(embedding_shape l3.tsf)" "50 64"
}

@test "embed: --layer numbers follow the layers written in the architecture" {
    # The encoder conv3x3:4,relu,maxpool2,linear:16 has four layers and the head
    # linear:16,relu,linear:8 three, so layer 4 is the encoder output and layer 7 the
    # head output, as the checkpoint's tensor names encoder.3 and head.2 count them.
    py '
names = [r["name"] for m, r in tsf.read(sys.argv[1])]
assert "encoder.3.weight" in names and "head.2.weight" in names, names
' "$D/ck.tsf"
    "$EMB" -c "$D/ck.tsf" "$D/s.tsf" >enc.tsf
    "$EMB" -c "$D/ck.tsf" --layer 4 "$D/s.tsf" >l4.tsf
    assert_equal "$(embedding_shape l4.tsf)" "50 16"
    assert_equal "$(max_diff l4.tsf enc.tsf)" 0
    "$EMB" -c "$D/ck.tsf" --layer output "$D/s.tsf" >out.tsf
    "$EMB" -c "$D/ck.tsf" --layer 7 "$D/s.tsf" >l7.tsf
    assert_equal "$(max_diff l7.tsf out.tsf)" 0
    expect_usage_error "$EMB" -c "$D/ck.tsf" --layer 8 "$D/s.tsf"
}

@test "embed: --layer 1 is the convolution of each image, checked with NumPy" {
    # --batch 1 keeps this test apart from how a batch is split into images, which the
    # --batch and --threads tests below check.
    "$EMB" -c "$D/ck.tsf" --layer 1 --batch 1 "$D/s.tsf" >l1.tsf
    "$EMB" -c "$D/ck.tsf" --layer 2 --batch 1 "$D/s.tsf" >l2.tsf
    # Layer 1 is the convolution alone and layer 2 its relu. Weights are [out, in, kh, kw]; pixels enter as (x/255 - mean) / std with zero
    # padding. The flattened order of an image may be [C, H, W] or [H, W, C].
    py '
meta = next(tsf.Reader(open(sys.argv[1], "rb")).streams())[0]
arch = meta["config"]["arch"]
p = {r["name"]: r["value"].astype(np.float64) for m, r in tsf.read(sys.argv[1])}
w, b = p["encoder.0.weight"], p["encoder.0.bias"]
imgs = [r["image"][:, :, 0] for m, r in tsf.read(sys.argv[2])]
l1 = [r["embedding"] for m, r in tsf.read(sys.argv[3])]
l2 = [r["embedding"] for m, r in tsf.read(sys.argv[4])]
bad = []
for i, (img, e1, e2) in enumerate(zip(imgs, l1, l2)):
    x = np.pad((img / 255.0 - arch["input_mean"]) / arch["input_std"], 1)
    conv = np.array([[[(x[y:y + 3, z:z + 3] * w[c, 0]).sum() + b[c] for z in range(8)] for y in range(8)]
                     for c in range(4)])
    relu = np.maximum(conv, 0)
    chw = lambda a: a.reshape(-1)
    hwc = lambda a: a.transpose(1, 2, 0).reshape(-1)
    ok1 = min(np.abs(chw(conv) - e1).max(), np.abs(hwc(conv) - e1).max()) < 1e-4
    ok2 = min(np.abs(chw(relu) - e2).max(), np.abs(hwc(relu) - e2).max()) < 1e-4
    if not (ok1 and ok2):
        bad.append((i, ok1, ok2))
assert not bad, "records whose layer 1 (conv) or layer 2 (relu) differ from NumPy: %s" % bad[:8]
' "$D/ck.tsf" "$D/s.tsf" l1.tsf l2.tsf
}

@test "embed: --raw gives the pixels divided by 255" {
    "$EMB" --raw "$D/s.tsf" >raw.tsf
    assert_equal "$(embedding_shape raw.tsf)" "50 64"
    assert_equal "$(keys raw.tsf)" "$(keys "$D/s.tsf")"
    py '
imgs = [r["image"] for m, r in tsf.read(sys.argv[1])]
embs = [r["embedding"] for m, r in tsf.read(sys.argv[2])]
for img, e in zip(imgs, embs):
    expected = img.reshape(-1).astype(np.float64) / 255
    assert np.abs(e - expected).max() < 1e-7, np.abs(e - expected).max()
' "$D/s.tsf" raw.tsf
}

# --- failures -------------------------------------------------------------------------

@test "embed: images of another shape than the checkpoint's are rejected" {
    make_samples small.tsf 6 3
    run --separate-stderr "$EMB" -c "$D/ck.tsf" small.tsf
    assert_failure 1
    assert_equal "$output" ""
    [[ "$stderr" == *"small.tsf"* ]] || fail "$stderr"
}

@test "embed: a missing image field is rejected" {
    run --separate-stderr "$EMB" -c "$D/ck.tsf" --field picture "$D/s.tsf"
    assert_failure 1
    assert_equal "$output" ""
    [[ "$stderr" == *"picture"* ]] || fail "$stderr"
}

@test "embed: a truncated samples stream fails" {
    local size
    size=$(stat -c %s "$D/s.tsf")
    head -c $((size - 20)) "$D/s.tsf" >cut.tsf
    run --separate-stderr "$EMB" -c "$D/ck.tsf" -o e.tsf cut.tsf
    assert_failure 1
    [ ! -e e.tsf ] || fail "-o was written from a truncated input"
}

# --- determinism ----------------------------------------------------------------------

@test "embed: --threads 2 gives the same embeddings as --threads 1" {
    make_patterns many.tsf 300 4
    for layer in encoder output 1 3; do
        "$EMB" -c "$D/ck.tsf" --layer "$layer" --threads 1 many.tsf >t1.tsf
        "$EMB" -c "$D/ck.tsf" --layer "$layer" --threads 2 many.tsf >t2.tsf
        local d
        d=$(max_diff t1.tsf t2.tsf)
        py 'assert float(sys.argv[1]) <= 1e-5, sys.argv[1:]' "$d" "layer $layer"
    done
}

@test "embed: --batch 3 gives the same embeddings as --batch 512 (within 1e-6)" {
    # Not bit for bit: the matrix products sum in another order at another batch size.
    make_patterns many.tsf 300 4
    for layer in encoder output 1 3; do
        "$EMB" -c "$D/ck.tsf" --layer "$layer" --batch 3 many.tsf >b3.tsf
        "$EMB" -c "$D/ck.tsf" --layer "$layer" --batch 512 many.tsf >b512.tsf
        local d
        d=$(max_diff b3.tsf b512.tsf)
        py 'assert float(sys.argv[1]) <= 1e-6, sys.argv[1:]' "$d" "layer $layer"
    done
}
