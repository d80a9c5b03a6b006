#!/usr/bin/env bats
# selfsup-pretrain simclr as a user runs it: option handling, a tiny augment | pretrain
# run and the checkpoint and metrics it writes, --steps 0, exact resumption with --skip,
# a non-finite step, bad or failed input, and the kNN monitor. The images are 8x8 gray
# stripes and checkerboards (four classes) and the network is a one-conv encoder, so the
# whole file runs in a few seconds.

load helpers

PRE="$BIN/selfsup-pretrain"
AUG="$BIN/selfsup-augment"
ENC=conv3x3:4,relu,maxpool2,linear:16
HEAD=linear:16,relu,linear:8
TINY=(--encoder "$ENC" --head "$HEAD" --threads 1)

# make_patterns FILE N SEED: write a samples stream of N gray 8x8 images over four
# classes (vertical halves, horizontal halves, checkerboard, 2x2 checkerboard), each
# pattern at 200 plus uniform noise in 0..39, so that the classes are easy to separate.
make_patterns() {
    py '
path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(seed)
yy, xx = np.mgrid[0:8, 0:8]
patterns = [xx < 4, yy < 4, (xx + yy) % 2 == 0, (xx // 2 + yy // 2) % 2 == 0]
w = tsf.Writer(open(path, "wb"), {"kind": "samples", "classes": ["left", "top", "check", "check2"]})
for i in range(n):
    img = patterns[i % 4] * 200 + rng.integers(0, 40, size=(8, 8))
    w.write({"key": "p%04d" % i, "image": img.astype(np.uint8).reshape(8, 8, 1),
             "label": np.int64(i % 4)})
w.end()
' "$1" "$2" "$3"
}

# train_state FILE KEY: print train_state[KEY] of the checkpoint FILE.
train_state() {
    py 'print(next(tsf.Reader(open(sys.argv[1], "rb")).streams())[0]["train_state"][sys.argv[2]])' "$1" "$2"
}

setup_file() {
    D=$BATS_FILE_TMPDIR
    make_patterns "$D/train.tsf" 64 1
    make_patterns "$D/val.tsf" 32 2
    "$AUG" --seed 3 --epochs 4 "$D/train.tsf" >"$D/views.tsf"
}

setup() {
    D=$BATS_FILE_TMPDIR
    mkdir "$BATS_TEST_TMPDIR/work"
    cd "$BATS_TEST_TMPDIR/work"
}

# --- options --------------------------------------------------------------------------

@test "pretrain: --help of the dispatcher and of simclr" {
    run --separate-stderr "$PRE" --help
    assert_success
    assert_equal "$stderr" ""
    assert_output --partial "simclr"
    run --separate-stderr "$PRE" simclr --help
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 "Usage: selfsup-pretrain simclr -o CHECKPOINT [OPTION]... [VIEWS]"
    assert_output --partial "--temperature T"
    assert_output --partial "chance_loss = ln(2N-1)"
}

@test "pretrain: --version" {
    run --separate-stderr "$PRE" --version
    assert_success
    assert_output --regexp '^selfsup-pretrain [0-9]+\.[0-9]+'
    run --separate-stderr "$PRE" simclr --version
    assert_success
    assert_output --regexp '^selfsup-pretrain simclr [0-9]+\.[0-9]+'
}

@test "pretrain: usage errors exit 2 with empty stdout" {
    local v=$D/views.tsf
    expect_usage_error "$PRE"
    expect_usage_error "$PRE" byol -o ck.tsf "$v"
    expect_usage_error "$PRE" simclr "$v"
    expect_usage_error "$PRE" simclr -o ck.tsf --temperature 0 "$v"
    expect_usage_error "$PRE" simclr -o ck.tsf --temperature -1 "$v"
    expect_usage_error "$PRE" simclr -o ck.tsf --batch 1 "$v"
    expect_usage_error "$PRE" simclr -o ck.tsf --loss triplet "$v"
    expect_usage_error "$PRE" simclr -o ck.tsf --optimizer rmsprop "$v"
    expect_usage_error "$PRE" simclr -o ck.tsf --steps -1 "$v"
    expect_usage_error "$PRE" simclr -o ck.tsf --threads 0 "$v"
    expect_usage_error "$PRE" simclr -o ck.tsf --frobnicate "$v"
    [ ! -e ck.tsf ] || fail "a usage error wrote a checkpoint"
}

@test "pretrain: usage error messages name the method and the value" {
    run --separate-stderr "$PRE" byol -o ck.tsf "$D/views.tsf"
    assert_failure 2
    [[ "$stderr" == *"'byol'"* ]] || fail "$stderr"
    run --separate-stderr "$PRE" simclr -o ck.tsf --temperature 0 "$D/views.tsf"
    assert_failure 2
    [[ "$stderr" == *"--temperature '0'"* ]] || fail "$stderr"
}

@test "pretrain: a bad --encoder or --head names the layer" {
    run --separate-stderr "$PRE" simclr -o ck.tsf --encoder conv3x3:4,relu,bogus:3 "$D/views.tsf"
    assert_failure 2
    assert_equal "$output" ""
    [[ "$stderr" == *"bogus:3"* ]] || fail "$stderr"
    run --separate-stderr "$PRE" simclr -o ck.tsf --encoder conv3x3:0,relu "$D/views.tsf"
    assert_failure 2
    [[ "$stderr" == *"conv3x3:0"* ]] || fail "$stderr"
    run --separate-stderr "$PRE" simclr -o ck.tsf --encoder "$ENC" --head linear:0 "$D/views.tsf"
    assert_failure 2
    [[ "$stderr" == *"linear:0"* ]] || fail "$stderr"
    # Four poolings halve 8x8 below 1x1.
    run --separate-stderr "$PRE" simclr -o ck.tsf \
        --encoder conv3x3:4,maxpool2,maxpool2,maxpool2,maxpool2,linear:4 "$D/views.tsf"
    assert_failure 2
    [[ "$stderr" == *"maxpool2"* ]] || fail "$stderr"
    [ ! -e ck.tsf ] || fail "a bad architecture wrote a checkpoint"
}

@test "pretrain: a malformed --encoder is rejected before any input is read" {
    # The spec's syntax does not depend on the input, so no views are needed to reject it.
    run --separate-stderr "$PRE" simclr -o ck.tsf --encoder conv3x3:4,relu,bogus:3 </dev/null
    assert_failure 2
    assert_equal "$output" ""
    [[ "$stderr" == *"bogus:3"* ]] || fail "$stderr"
}

# --- a tiny run -----------------------------------------------------------------------

@test "pretrain: augment | pretrain writes a valid checkpoint and one log line per step" {
    "$AUG" --seed 3 --epochs 4 "$D/train.tsf" |
        "$PRE" simclr -o ck.tsf "${TINY[@]}" --batch 16 --steps 10 --warmup 2 --lr 0.01 --log log.jsonl
    run "$TSF" validate ck.tsf
    assert_success
    py_validate ck.tsf
    py '
meta = next(tsf.Reader(open(sys.argv[1], "rb")).streams())[0]
assert meta["kind"] == "checkpoint", meta["kind"]
arch = meta["config"]["arch"]
assert arch["encoder"] == sys.argv[2] and arch["head"] == sys.argv[3], arch
assert arch["input"] == [8, 8, 1], arch["input"]
st = meta["train_state"]
assert st["step"] == 10 and st["optimizer_step"] == 10, st
assert st["views"] == 10 * 16 * 2, st
names = [r["name"] for m, r in tsf.read(sys.argv[1])]
assert len(names) == 8 and len(set(names)) == 8, names
assert sum(n.startswith("encoder.") for n in names) == 4, names
assert sum(n.startswith("head.") for n in names) == 4, names
for m, r in tsf.read(sys.argv[1]):
    assert np.isfinite(r["value"]).all(), r["name"]
    assert r["m"].shape == r["value"].shape and r["v"].shape == r["value"].shape, r["name"]
' ck.tsf "$ENC" "$HEAD"
    py '
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["step"] for l in lines] == list(range(1, 11)), [l["step"] for l in lines]
for l in lines:
    for k in ("loss", "chance_loss", "top1", "lr", "views_per_s"):
        assert k in l and np.isfinite(l[k]), (k, l)
    assert abs(l["chance_loss"] - np.log(2 * 16 - 1)) < 1e-5, l
    assert 0 <= l["top1"] <= 1 and l["views_per_s"] > 0, l
assert abs(lines[1]["lr"] - 0.01) < 1e-9, lines[1]
' log.jsonl
}

@test "pretrain: the loss falls over 40 steps on learnable images" {
    "$AUG" --seed 1 --epochs 10 --shuffle "$D/train.tsf" |
        "$PRE" simclr -o ck.tsf "${TINY[@]}" --batch 16 --steps 40 --warmup 5 --lr 0.01 --seed 1 --log log.jsonl
    py '
loss = [json.loads(l)["loss"] for l in open(sys.argv[1])]
assert len(loss) == 40, len(loss)
first, last = np.mean(loss[:5]), np.mean(loss[-5:])
assert last < first - 0.2, (first, last)
assert last < np.log(31) - 0.3, last
' log.jsonl
}

@test "pretrain: the run stops when the input ends" {
    # 64 images, batch 16, one epoch: 4 steps.
    "$AUG" "$D/train.tsf" | "$PRE" simclr -o ck.tsf "${TINY[@]}" --batch 16 --log log.jsonl
    assert_equal "$(train_state ck.tsf step)" 4
    assert_equal "$(wc -l <log.jsonl)" 4
}

@test "pretrain: --steps 0 writes the initial weights" {
    "$PRE" simclr -o ck.tsf "${TINY[@]}" --batch 8 --steps 0 "$D/views.tsf"
    "$TSF" validate ck.tsf
    assert_equal "$(train_state ck.tsf step)" 0
    assert_equal "$(train_state ck.tsf views)" 0
    py '
names = [r["name"] for m, r in tsf.read(sys.argv[1])]
assert len(names) == 8, names
for m, r in tsf.read(sys.argv[1]):
    assert np.isfinite(r["value"]).all(), r["name"]
w = [r["value"] for m, r in tsf.read(sys.argv[1]) if r["name"].endswith("weight")]
assert all(np.abs(x).max() > 0 for x in w), "a weight tensor starts at zero"
' ck.tsf
    # The same seed gives the same initial weights.
    "$PRE" simclr -o again.tsf "${TINY[@]}" --batch 8 --steps 0 "$D/views.tsf"
    assert_equal "$(records_dump again.tsf)" "$(records_dump ck.tsf)"
}

@test "pretrain: 3 steps then --resume for 3 more equals 6 steps in one go" {
    local opts=("${TINY[@]}" --batch 8 --warmup 2 --lr 0.01 --seed 5 --schedule 6)
    "$AUG" --seed 3 --epochs 4 "$D/train.tsf" | "$PRE" simclr -o full.tsf "${opts[@]}" --steps 6
    "$AUG" --seed 3 --epochs 4 "$D/train.tsf" | "$PRE" simclr -o half.tsf "${opts[@]}" --steps 3
    local views
    views=$(train_state half.tsf views)
    assert_equal "$views" 48
    "$AUG" --seed 3 --epochs 4 --skip "$views" "$D/train.tsf" |
        "$PRE" simclr -o half.tsf --resume "${opts[@]}" --steps 6
    assert_equal "$(train_state half.tsf step)" 6
    assert_equal "$(train_state half.tsf views)" "$(train_state full.tsf views)"
    assert_equal "$(train_state half.tsf optimizer_step)" 6
    # Parameters and both Adam moments must be bit for bit the same.
    py '
a = [r for m, r in tsf.read(sys.argv[1])]
b = [r for m, r in tsf.read(sys.argv[2])]
assert [r["name"] for r in a] == [r["name"] for r in b]
for x, y in zip(a, b):
    for f in ("value", "m", "v"):
        assert np.array_equal(x[f], y[f]), (x["name"], f, float(np.abs(x[f] - y[f]).max()))
' full.tsf half.tsf
}

@test "pretrain: --resume without a checkpoint fails" {
    run --separate-stderr "$PRE" simclr -o missing.tsf --resume "${TINY[@]}" --batch 8 "$D/views.tsf"
    assert_failure 1
    assert_equal "$output" ""
    [[ "$stderr" == *"missing.tsf"* ]] || fail "$stderr"
}

# --- failures -------------------------------------------------------------------------

@test "pretrain: a non-finite step exits 3 and leaves the checkpoint as it was" {
    "$PRE" simclr -o ck.tsf "${TINY[@]}" --batch 8 --steps 2 "$D/views.tsf"
    # Scale every weight by 1e30, so that the next forward pass overflows float32.
    py '
meta, recs = next(tsf.Reader(open(sys.argv[1], "rb")).streams())
out = open(sys.argv[2], "wb")
w = tsf.Writer(out, meta)
for r in recs:
    if r["name"].endswith("weight"):
        r["value"] = (r["value"] * np.float32(1e30)).astype(np.float32)
    w.write(r)
w.end()
out.close()
' ck.tsf huge.tsf
    cp huge.tsf before.tsf
    run --separate-stderr "$PRE" simclr -o huge.tsf --resume "${TINY[@]}" --batch 8 --steps 6 --save-every 1 \
        "$D/views.tsf"
    assert_failure 3
    assert_equal "$output" ""
    [[ "$stderr" == *"step 3"* ]] || fail "the message does not name step 3: $stderr"
    [[ "$stderr" == *"finite"* ]] || fail "$stderr"
    cmp huge.tsf before.tsf
    [ -z "$(ls -A | grep -v -x -e huge.tsf -e before.tsf -e ck.tsf)" ] || fail "left files: $(ls -A)"
}

@test "pretrain: a samples stream without view0 and view1 is rejected" {
    run --separate-stderr "$PRE" simclr -o ck.tsf "${TINY[@]}" --batch 8 "$D/train.tsf"
    assert_failure 1
    assert_equal "$output" ""
    [[ "$stderr" == *"view0"* && "$stderr" == *"view1"* ]] || fail "$stderr"
    [ ! -e ck.tsf ] || fail "a checkpoint was written"
}

@test "pretrain: a truncated views stream fails" {
    local size
    size=$(stat -c %s "$D/views.tsf")
    head -c $((size / 2)) "$D/views.tsf" >cut.tsf
    head -c $((size - 10)) "$D/views.tsf" >cut_end.tsf
    for f in cut.tsf cut_end.tsf; do
        run --separate-stderr "$PRE" simclr -o ck.tsf "${TINY[@]}" --batch 8 "$f"
        assert_failure 1
        assert_equal "$output" ""
        [[ "$stderr" == *"truncated"* ]] || fail "$stderr"
        [ ! -e ck.tsf ] || fail "a checkpoint was written from $f"
    done
}

@test "pretrain: an upstream abort fails and keeps the old checkpoint" {
    "$PRE" simclr -o ck.tsf "${TINY[@]}" --batch 8 --steps 1 "$D/views.tsf"
    cp ck.tsf before.tsf
    py '
w = tsf.Writer(sys.stdout.buffer, {"kind": "views"}, chunk_target=256, flush_after=1e9)
for i, (m, r) in enumerate(tsf.read(sys.argv[1])):
    if i == 40:
        break
    w.write(r)
w.abort("augment: out of memory")
sys.stdout.flush()
' "$D/views.tsf" >aborted.tsf
    run --separate-stderr bash -c '"$1" simclr -o ck.tsf --encoder "$2" --head "$3" --batch 8 <aborted.tsf' \
        _ "$PRE" "$ENC" "$HEAD"
    assert_failure 1
    assert_equal "$output" ""
    [[ "$stderr" == *"out of memory"* ]] || fail "the upstream message is not passed on: $stderr"
    cmp ck.tsf before.tsf
}

@test "pretrain: a failed augment upstream fails the pipeline stage" {
    head -c 200 "$D/train.tsf" >cut.tsf
    run --separate-stderr bash -c '"$1" cut.tsf | "$2" simclr -o ck.tsf --encoder "$3" --head "$4" --batch 8' \
        _ "$AUG" "$PRE" "$ENC" "$HEAD"
    assert_failure 1
    [ ! -e ck.tsf ] || fail "a checkpoint was written"
}

# --- kNN monitor ----------------------------------------------------------------------

@test "pretrain: the kNN monitor logs knn_accuracy every N steps" {
    "$PRE" simclr -o ck.tsf "${TINY[@]}" --batch 8 --steps 6 --log log.jsonl \
        --monitor-train "$D/train.tsf" --monitor-val "$D/val.tsf" --monitor-every 2 "$D/views.tsf" 2>err
    py '
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 6, len(lines)
for l in lines:
    if l["step"] % 2 == 0:
        assert "knn_accuracy" in l and 0 <= l["knn_accuracy"] <= 1, l
    else:
        assert "knn_accuracy" not in l, l
# The patterns differ in layout, so even the barely trained encoder separates them.
assert lines[-1]["knn_accuracy"] > 0.5, lines[-1]
' log.jsonl
}

@test "pretrain: --monitor-every without monitor files is a usage error" {
    expect_usage_error "$PRE" simclr -o ck.tsf "${TINY[@]}" --batch 8 --monitor-every 2 "$D/views.tsf"
}
