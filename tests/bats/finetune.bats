#!/usr/bin/env bats
# selfsup-finetune and selfsup-finetune predict as a user runs them: option handling,
# pretrain | finetune | predict on tiny 8x8 gray patterns, the checkpoint and the
# predictions stream, --head-from a selfsup-probe model, --freeze, and bad labels.

load helpers

FT="$BIN/selfsup-finetune"
ENC=conv3x3:4,relu,maxpool2,linear:16
HEAD=linear:16,relu,linear:8

# make_patterns FILE N SEED [MODE]: write a samples stream of N gray 8x8 images over four
# classes, one pattern per class plus uniform noise. MODE "nolabel" leaves label out,
# "label7" sets record 5's label to 7, and "noclasses" leaves the class names out.
make_patterns() {
    py '
path, n, seed, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(seed)
yy, xx = np.mgrid[0:8, 0:8]
patterns = [xx < 4, yy < 4, (xx + yy) % 2 == 0, (xx // 2 + yy // 2) % 2 == 0]
meta = {"kind": "samples"}
if mode != "noclasses":
    meta["classes"] = ["left", "top", "check", "check2"]
w = tsf.Writer(open(path, "wb"), meta)
for i in range(n):
    img = patterns[i % 4] * 200 + rng.integers(0, 40, size=(8, 8))
    r = {"key": "f%04d" % i, "image": img.astype(np.uint8).reshape(8, 8, 1)}
    if mode != "nolabel":
        r["label"] = np.int64(7 if mode == "label7" and i == 5 else i % 4)
    w.write(r)
w.end()
' "$1" "$2" "$3" "${4:-plain}"
}

setup_file() {
    D=$BATS_FILE_TMPDIR
    make_patterns "$D/train.tsf" 64 1
    make_patterns "$D/test.tsf" 32 2
    "$BIN/selfsup-augment" --seed 2 --epochs 2 "$D/train.tsf" |
        "$BIN/selfsup-pretrain" simclr -o "$D/pre.tsf" --encoder "$ENC" --head "$HEAD" \
            --batch 16 --steps 6 --warmup 1 --lr 0.01 --threads 1
}

setup() {
    D=$BATS_FILE_TMPDIR
    mkdir "$BATS_TEST_TMPDIR/work"
    cd "$BATS_TEST_TMPDIR/work"
}

# --- options --------------------------------------------------------------------------

@test "finetune: --help and --version" {
    run --separate-stderr "$FT" --help
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 "Usage: selfsup-finetune -c PRETRAINED -o CHECKPOINT [OPTION]... [SAMPLES]"
    assert_output --partial "--freeze N"
    run --separate-stderr "$FT" predict --help
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 "Usage: selfsup-finetune predict -m MODEL [OPTION]... [SAMPLES]"
    run --separate-stderr "$FT" --version
    assert_success
    assert_output --regexp '^selfsup-finetune [0-9]+\.[0-9]+'
}

@test "finetune: usage errors exit 2 with empty stdout" {
    local s=$D/train.tsf p=$D/pre.tsf
    expect_usage_error "$FT" -c "$p" "$s"
    expect_usage_error "$FT" -o ft.tsf "$s"
    expect_usage_error "$FT" -c "$p" -o ft.tsf --classes 1 "$s"
    expect_usage_error "$FT" -c "$p" -o ft.tsf --freeze -1 "$s"
    expect_usage_error "$FT" -c "$p" -o ft.tsf --batch 0 "$s"
    expect_usage_error "$FT" -c "$p" -o ft.tsf --optimizer rmsprop "$s"
    expect_usage_error "$FT" -c "$p" -o ft.tsf --frobnicate "$s"
    expect_usage_error "$FT" predict "$s"
    expect_usage_error "$FT" predict -m "$p" --batch 0 "$s"
    expect_usage_error "$FT" predict -m "$p" --frobnicate "$s"
    [ ! -e ft.tsf ] || fail "a usage error wrote a checkpoint"
    run --separate-stderr "$FT" -o ft.tsf "$s"
    [[ "$stderr" == *"-c"* ]] || fail "$stderr"
    run --separate-stderr "$FT" predict "$s"
    [[ "$stderr" == *"-m"* ]] || fail "$stderr"
}

@test "finetune: missing checkpoints fail" {
    run --separate-stderr "$FT" -c missing.tsf -o ft.tsf "$D/train.tsf"
    assert_failure 1
    [[ "$stderr" == *"missing.tsf"* ]] || fail "$stderr"
    run --separate-stderr "$FT" predict -m missing.tsf "$D/test.tsf"
    assert_failure 1
    assert_equal "$output" ""
    [[ "$stderr" == *"missing.tsf"* ]] || fail "$stderr"
}

# --- pretrain | finetune | predict ----------------------------------------------------

@test "finetune: writes a classifier checkpoint with a linear:K head" {
    "$FT" -c "$D/pre.tsf" -o ft.tsf --batch 8 --steps 6 --threads 1 --log log.jsonl "$D/train.tsf"
    "$TSF" validate ft.tsf
    py_validate ft.tsf
    py '
meta = next(tsf.Reader(open(sys.argv[1], "rb")).streams())[0]
assert meta["kind"] == "checkpoint", meta["kind"]
arch = meta["config"]["arch"]
assert arch["head"] == "linear:4", arch
assert arch["encoder"] == sys.argv[2], arch
assert meta["classes"] == ["left", "top", "check", "check2"], meta.get("classes")
assert meta["train_state"]["step"] == 6, meta["train_state"]
shapes = {r["name"]: r["value"].shape for m, r in tsf.read(sys.argv[1])}
heads = {k: v for k, v in shapes.items() if k.startswith("head.")}
assert heads == {"head.0.weight": (4, 16), "head.0.bias": (4,)}, heads
for m, r in tsf.read(sys.argv[1]):
    assert np.isfinite(r["value"]).all(), r["name"]
lines = [json.loads(l) for l in open(sys.argv[3])]
assert [l["step"] for l in lines] == list(range(1, 7)), lines
assert all(np.isfinite(l["loss"]) for l in lines), lines
' ft.tsf "$ENC" log.jsonl
}

@test "finetune: --classes sets K when the input names no classes" {
    make_patterns plain.tsf 32 3 noclasses
    run --separate-stderr "$FT" -c "$D/pre.tsf" -o ft.tsf --batch 8 --steps 2 plain.tsf
    assert_failure 2
    [[ "$stderr" == *"--classes"* ]] || fail "$stderr"
    "$FT" -c "$D/pre.tsf" -o ft.tsf --batch 8 --steps 2 --classes 5 plain.tsf
    py '
meta = next(tsf.Reader(open(sys.argv[1], "rb")).streams())[0]
assert meta["config"]["arch"]["head"] == "linear:5", meta["config"]["arch"]
' ft.tsf
}

@test "finetune predict: writes label, logits, probs and target for each record" {
    "$FT" -c "$D/pre.tsf" -o ft.tsf --batch 8 --steps 8 --lr-head 0.01 "$D/train.tsf"
    "$FT" predict -m ft.tsf "$D/test.tsf" >pred.tsf
    py_validate pred.tsf
    assert_equal "$(keys pred.tsf)" "$(keys "$D/test.tsf")"
    py '
meta = next(tsf.Reader(open(sys.argv[1], "rb")).streams())[0]
assert meta["kind"] == "predictions", meta["kind"]
assert meta["classes"] == ["left", "top", "check", "check2"], meta.get("classes")
targets = [int(r["label"]) for m, r in tsf.read(sys.argv[2])]
recs = [r for m, r in tsf.read(sys.argv[1])]
assert len(recs) == len(targets) == 32
for r, t in zip(recs, targets):
    assert set(r) == {"key", "label", "logits", "probs", "target"}, set(r)
    logits, probs = r["logits"], r["probs"]
    assert logits.shape == probs.shape == (4,), (logits.shape, probs.shape)
    assert abs(float(probs.sum()) - 1) < 1e-5, probs.sum()
    assert (probs >= 0).all()
    assert int(r["label"]) == int(np.argmax(logits)), (r["label"], logits)
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert np.abs(probs - expected).max() < 1e-5, (probs, expected)
    assert int(r["target"]) == t, (r["target"], t)
' pred.tsf "$D/test.tsf"
    "$FT" predict -m ft.tsf -o again.tsf --threads 2 --batch 3 <"$D/test.tsf"
    py '
a = [r for m, r in tsf.read(sys.argv[1])]
b = [r for m, r in tsf.read(sys.argv[2])]
for x, y in zip(a, b):
    assert int(x["label"]) == int(y["label"]) and np.abs(x["probs"] - y["probs"]).max() < 1e-5
' pred.tsf again.tsf
}

@test "finetune predict: unlabelled input gives no target" {
    make_patterns nolabel.tsf 8 4 nolabel
    "$FT" -c "$D/pre.tsf" -o ft.tsf --batch 8 --steps 2 "$D/train.tsf"
    "$FT" predict -m ft.tsf nolabel.tsf >pred.tsf
    py '
for m, r in tsf.read(sys.argv[1]):
    assert "target" not in r and "probs" in r, set(r)
' pred.tsf
}

@test "finetune predict: a pretraining checkpoint is not a classifier" {
    # Its head is the 8-wide projection, which would give 8 logits for 4 class names.
    run --separate-stderr "$FT" predict -m "$D/pre.tsf" -o pred.tsf "$D/test.tsf"
    assert_failure 1
    [[ "$stderr" == *"pre.tsf"* ]] || fail "$stderr"
    [ ! -e pred.tsf ] || fail "predictions were written"
}

@test "finetune: --head-from starts from the probe's classifier" {
    [ -x "$BIN/selfsup-probe" ] || skip "no selfsup-probe"
    "$BIN/selfsup-embed" -c "$D/pre.tsf" "$D/train.tsf" >emb.tsf
    "$BIN/selfsup-probe" -o probe.tsf --lambda 0.01 emb.tsf 2>/dev/null
    # No steps: the finetuned network is the encoder and the probe's head.
    "$FT" -c "$D/pre.tsf" -o ft.tsf --head-from probe.tsf --steps 0 "$D/train.tsf"
    run "$BIN/selfsup-tsf" info -v ft.tsf
    [[ "$output" == *'"step":0'* ]] || fail "steps were taken: $output"
    "$FT" predict -m ft.tsf "$D/train.tsf" >ft_pred.tsf
    "$BIN/selfsup-probe" predict -m probe.tsf emb.tsf >probe_pred.tsf
    py '
a = [r for m, r in tsf.read(sys.argv[1])]
b = [r for m, r in tsf.read(sys.argv[2])]
assert len(a) == len(b) == 64
for x, y in zip(a, b):
    assert x["key"] == y["key"]
    assert int(x["label"]) == int(y["label"]), (x["key"], x["probs"], y["probs"])
    assert np.abs(x["probs"] - y["probs"]).max() < 1e-3, (x["key"], x["probs"], y["probs"])
' ft_pred.tsf probe_pred.tsf
}

@test "finetune: --head-from gives K and the class names when the input names none" {
    [ -x "$BIN/selfsup-probe" ] || skip "no selfsup-probe"
    make_patterns plain.tsf 32 3 noclasses
    "$BIN/selfsup-embed" -c "$D/pre.tsf" "$D/train.tsf" >emb.tsf
    "$BIN/selfsup-probe" -o probe.tsf --lambda 0.01 emb.tsf 2>/dev/null
    "$FT" -c "$D/pre.tsf" -o ft.tsf --head-from probe.tsf --batch 8 --steps 2 plain.tsf
    py '
meta = next(tsf.Reader(open(sys.argv[1], "rb")).streams())[0]
assert meta["config"]["arch"]["head"] == "linear:4", meta["config"]["arch"]
assert meta["classes"] == ["left", "top", "check", "check2"], meta.get("classes")
' ft.tsf
}

@test "finetune: --freeze 1 keeps the first encoder layer as pretrained" {
    "$FT" -c "$D/pre.tsf" -o ft.tsf --freeze 1 --batch 8 --steps 6 --lr-encoder 0.01 "$D/train.tsf"
    py '
pre = {r["name"]: r["value"] for m, r in tsf.read(sys.argv[1])}
ft = {r["name"]: r["value"] for m, r in tsf.read(sys.argv[2])}
enc = sorted((k for k in ft if k.startswith("encoder.")), key=lambda k: int(k.split(".")[1]))
first = [k for k in enc if k.split(".")[1] == enc[0].split(".")[1]]
rest = [k for k in enc if k not in first]
assert first and rest, enc
for k in first:
    assert np.array_equal(pre[k], ft[k]), k
assert any(not np.array_equal(pre[k], ft[k]) for k in rest), "the unfrozen encoder layer did not train"
' "$D/pre.tsf" ft.tsf
    # Without --freeze the first layer trains too.
    "$FT" -c "$D/pre.tsf" -o free.tsf --batch 8 --steps 6 --lr-encoder 0.01 "$D/train.tsf"
    py '
pre = {r["name"]: r["value"] for m, r in tsf.read(sys.argv[1])}
ft = {r["name"]: r["value"] for m, r in tsf.read(sys.argv[2])}
assert not np.array_equal(pre["encoder.0.weight"], ft["encoder.0.weight"])
' "$D/pre.tsf" free.tsf
}

# --- bad labels -----------------------------------------------------------------------

@test "finetune: records without labels are rejected" {
    make_patterns nolabel.tsf 16 4 nolabel
    run --separate-stderr "$FT" -c "$D/pre.tsf" -o ft.tsf --batch 8 nolabel.tsf
    assert_failure 1
    assert_equal "$output" ""
    [[ "$stderr" == *"record 0"* && "$stderr" == *"label"* ]] || fail "$stderr"
    [ ! -e ft.tsf ] || fail "a checkpoint was written"
}

@test "finetune: a label outside the classes is rejected" {
    make_patterns bad.tsf 16 4 label7
    run --separate-stderr "$FT" -c "$D/pre.tsf" -o ft.tsf --batch 8 bad.tsf
    assert_failure 1
    assert_equal "$output" ""
    [[ "$stderr" == *"record 5"* && "$stderr" == *"7"* ]] || fail "$stderr"
    [ ! -e ft.tsf ] || fail "a checkpoint was written"
    # --classes below the largest label.
    run --separate-stderr "$FT" -c "$D/pre.tsf" -o ft.tsf --batch 8 --classes 3 "$D/train.tsf"
    assert_failure 1
    [[ "$stderr" == *"label 3"* ]] || fail "$stderr"
}

@test "finetune: images of another shape than the pretrained encoder's are rejected" {
    make_samples small.tsf 16 3
    run --separate-stderr "$FT" -c "$D/pre.tsf" -o ft.tsf --batch 8 small.tsf
    assert_failure 1
    assert_equal "$output" ""
    [ ! -e ft.tsf ] || fail "a checkpoint was written"
}
