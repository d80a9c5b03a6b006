#!/usr/bin/env bats
# selfsup-augment as a user runs it: option handling, the fields and metadata it writes,
# identity views, determinism across threads, chunking and reruns, --skip against the
# tail of a full run, epochs and shuffling, output types and sizes, and failures.

load helpers

AUG="$BIN/selfsup-augment"

setup_file() {
    D=$BATS_FILE_TMPDIR
    make_samples "$D/s30.tsf" 30 3
    make_samples "$D/s30z.tsf" 30 3 zstd
    make_samples "$D/s0.tsf" 0 3
    # 12x10 RGB images, so that the colour steps and a non-square crop run.
    py '
w = tsf.Writer(open(sys.argv[1], "wb"), {"kind": "samples", "classes": ["a", "b"]})
for i in range(20):
    img = ((np.arange(360) * 37 + (np.arange(360) // 7) ** 2 + i * 101) % 256).astype(np.uint8)
    img = img.reshape(12, 10, 3)
    w.write({"key": "rgb%02d" % i, "image": img, "label": np.int64(i % 2)})
w.end()
' "$D/rgb.tsf"
    # The same gray images as float32 in [0, 1], without labels.
    py '
w = tsf.Writer(open(sys.argv[2], "wb"), {"kind": "samples"})
for m, r in tsf.read(sys.argv[1]):
    w.write({"key": r["key"], "image": (r["image"] / np.float32(255)).astype(np.float32)})
w.end()
' "$D/s30.tsf" "$D/f30.tsf"
    # 400 records of 4 KiB each: more than 1 MiB in memory.
    py '
w = tsf.Writer(open(sys.argv[1], "wb"), {"kind": "samples"})
for i in range(400):
    img = ((np.arange(4096) + i) % 251).astype(np.uint8).reshape(64, 64, 1)
    w.write({"key": "b%04d" % i, "image": img, "label": np.int64(i % 2)})
w.end()
' "$D/big.tsf"
}

setup() {
    D=$BATS_FILE_TMPDIR
    mkdir "$BATS_TEST_TMPDIR/work"
    cd "$BATS_TEST_TMPDIR/work"
}

# fields FILE: print the field names, dtypes and shapes of the first record.
fields() {
    py '
for m, r in tsf.read(sys.argv[1]):
    print(" ".join("%s:%s%s" % (k, v.dtype if hasattr(v, "dtype") else "str",
                                list(v.shape) if hasattr(v, "shape") else "") for k, v in r.items())
          .replace(", ", ","))
    break
' "$1"
}

# meta FILE EXPR: print a Python expression over the metadata m of the first stream.
meta() {
    py '
m = next(tsf.Reader(open(sys.argv[1], "rb")).streams())[0]
print(eval(sys.argv[2]))
' "$1" "$2"
}

# --- options --------------------------------------------------------------------------

@test "augment: --help" {
    run --separate-stderr "$AUG" --help
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 "Usage: selfsup-augment [OPTION]... [FILE]"
    assert_output --partial "--crop-scale MIN,MAX"
    assert_output --partial "(default 0.8,0.4,0.4,0.4,0.1)"
}

@test "augment: --version" {
    run --separate-stderr "$AUG" --version
    assert_success
    assert_equal "$stderr" ""
    assert_output --regexp '^selfsup-augment [0-9]+\.[0-9]+'
}

@test "augment: usage errors exit 2 with empty stdout" {
    local s=$D/s30.tsf
    expect_usage_error "$AUG" --frobnicate "$s"
    expect_usage_error "$AUG" --views 0 "$s"
    expect_usage_error "$AUG" --views 63 "$s"
    expect_usage_error "$AUG" --views two "$s"
    expect_usage_error "$AUG" --skip 3 "$s"
    expect_usage_error "$AUG" --views 3 --skip 4 "$s"
    expect_usage_error "$AUG" --skip -2 "$s"
    expect_usage_error "$AUG" --epochs 0 "$s"
    expect_usage_error "$AUG" --jitter 1,2 "$s"
    expect_usage_error "$AUG" --jitter 0.8,0.4,0.4,0.4,0.6 "$s"
    expect_usage_error "$AUG" --jitter 0.8,0.4,0.4,0.4,0.1, "$s"
    expect_usage_error "$AUG" --hflip 1.5 "$s"
    expect_usage_error "$AUG" --hflip abc "$s"
    expect_usage_error "$AUG" --hflip "" "$s"
    expect_usage_error "$AUG" --crop-scale 0.9,0.5 "$s"
    expect_usage_error "$AUG" --crop-scale 0,1 "$s"
    expect_usage_error "$AUG" --crop-ratio 1 "$s"
    expect_usage_error "$AUG" --rotate 0.5,200 "$s"
    expect_usage_error "$AUG" --scale 0.5,2,1 "$s"
    expect_usage_error "$AUG" --blur 0.5,0,2 "$s"
    expect_usage_error "$AUG" --noise 0.5,nan "$s"
    expect_usage_error "$AUG" --size 0 "$s"
    expect_usage_error "$AUG" --size 8,x "$s"
    expect_usage_error "$AUG" --size 2.5 "$s"
    expect_usage_error "$AUG" --dtype int8 "$s"
    expect_usage_error "$AUG" --no-augment --hflip 0.5 "$s"
    expect_usage_error "$AUG" --threads 0 "$s"
    expect_usage_error "$AUG" "$s" "$s"
}

@test "augment: usage error messages name the value" {
    run --separate-stderr "$AUG" --jitter 0.8,0.4,0.4,0.4,0.6 "$D/s30.tsf"
    assert_failure 2
    [[ "$stderr" == *"H of --jitter '0.6'"* ]] || fail "$stderr"
    run --separate-stderr "$AUG" --skip 3 "$D/s30.tsf"
    [[ "$stderr" == *"--skip 3 is not a multiple of --views 2"* ]] || fail "$stderr"
    run --separate-stderr "$AUG" --no-augment --hflip 0.5 "$D/s30.tsf"
    [[ "$stderr" == *"--no-augment cannot be combined with --hflip"* ]] || fail "$stderr"
}

@test "augment: --epochs 2 on standard input needs --shuffle" {
    expect_usage_error bash -c '"$1" --epochs 2 <"$2"' _ "$AUG" "$D/s30.tsf"
    expect_usage_error "$AUG" --epochs 2 - <"$D/s30.tsf"
    "$AUG" --epochs 2 --shuffle <"$D/s30.tsf" >out.tsf
    assert_equal "$(count_records out.tsf)" 60
}

# --- what it writes -------------------------------------------------------------------

@test "augment: two views by default" {
    "$AUG" "$D/s30.tsf" >out.tsf
    py_validate out.tsf
    assert_equal "$(count_records out.tsf)" 30
    assert_equal "$(fields out.tsf)" "key:str view0:uint8[4,4,1] view1:uint8[4,4,1] label:int64[]"
}

@test "augment: --views 3 and the metadata" {
    "$AUG" --views 3 --seed 9 "$D/s30.tsf" >out.tsf
    assert_equal "$(fields out.tsf)" \
        "key:str view0:uint8[4,4,1] view1:uint8[4,4,1] view2:uint8[4,4,1] label:int64[]"
    assert_equal "$(meta out.tsf 'm["kind"]')" "views"
    assert_equal "$(meta out.tsf 'm["classes"]')" "['c0', 'c1', 'c2']"
    assert_equal "$(meta out.tsf 'm["config"]["augment"]["views"]')" 3
    assert_equal "$(meta out.tsf 'm["config"]["augment"]["seed"]')" 9
    assert_equal "$(meta out.tsf 'm["config"]["augment"]["crop_scale"]')" "[0.3, 1.0]"
    assert_equal "$(meta out.tsf 'm["config"]["augment"]["jitter"]["hue"]')" 0.1
    assert_equal "$(meta out.tsf '[f["name"] for f in m["schema"]["fields"]]')" \
        "['key', 'view0', 'view1', 'view2', 'label']"
    assert_equal "$(meta out.tsf 'm["schema"]["fields"][1]["shape"]')" "[4, 4, 1]"
    assert_equal "$(meta out.tsf 'm["producer"]["tool"]')" "selfsup-augment"
    "$AUG" --no-augment out.tsf 2>/dev/null && fail "a views stream was accepted"
    "$TSF" head -n 5 "$D/s30.tsf" | "$AUG" >again.tsf
    assert_equal "$(meta again.tsf 'm["history"][-1]["tool"]')" "selfsup-tsf head"
}

@test "augment: keys and labels pass through in order" {
    "$AUG" "$D/s30.tsf" >out.tsf
    assert_equal "$(keys out.tsf)" "$(keys "$D/s30.tsf")"
    assert_equal "$(labels out.tsf)" "$(labels "$D/s30.tsf")"
}

@test "augment: --no-augment views equal the images" {
    "$AUG" --no-augment --views 3 "$D/s30.tsf" >out.tsf
    py '
a = [r for m, r in tsf.read(sys.argv[1])]
b = [r for m, r in tsf.read(sys.argv[2])]
assert len(a) == len(b) == 30
for x, y in zip(a, b):
    for v in ("view0", "view1", "view2"):
        assert np.array_equal(x["image"], y[v]), (x["key"], v)
' "$D/s30.tsf" out.tsf
}

@test "augment: views differ from each other and from the image" {
    "$AUG" --seed 1 "$D/rgb.tsf" >out.tsf
    py '
a = [r for m, r in tsf.read(sys.argv[1])]
b = [r for m, r in tsf.read(sys.argv[2])]
same_views = sum(np.array_equal(y["view0"], y["view1"]) for y in b)
same_image = sum(np.array_equal(x["image"], y["view0"]) for x, y in zip(a, b))
assert same_views == 0 and same_image == 0, (same_views, same_image)
' "$D/rgb.tsf" out.tsf
}

@test "augment: --dtype float32 gives values in [0,1]" {
    "$AUG" --dtype float32 "$D/rgb.tsf" >out.tsf
    assert_equal "$(fields out.tsf | cut -d' ' -f2)" "view0:float32[12,10,3]"
    py '
for m, r in tsf.read(sys.argv[1]):
    v = r["view0"]
    assert v.min() >= 0 and v.max() <= 1 and v.max() > 0.5, (v.min(), v.max())
' out.tsf
    assert_equal "$(meta out.tsf 'm["schema"]["fields"][1]["dtype"]')" "float32"
}

@test "augment: --no-augment --dtype float32 is the image over 255" {
    "$AUG" --no-augment --dtype float32 "$D/s30.tsf" >out.tsf
    py '
a = [r for m, r in tsf.read(sys.argv[1])]
b = [r for m, r in tsf.read(sys.argv[2])]
for x, y in zip(a, b):
    assert np.abs(x["image"] / 255.0 - y["view1"]).max() < 1e-6
' "$D/s30.tsf" out.tsf
}

@test "augment: float32 input" {
    "$AUG" --no-augment "$D/f30.tsf" >out.tsf
    py '
a = [r for m, r in tsf.read(sys.argv[1])]
b = [r for m, r in tsf.read(sys.argv[2])]
for x, y in zip(a, b):
    assert np.array_equal(x["image"], y["view0"])
    assert "label" not in y
' "$D/s30.tsf" out.tsf
}

@test "augment: --size sets the output size" {
    "$AUG" --size 8 "$D/s30.tsf" >out.tsf
    assert_equal "$(fields out.tsf | cut -d' ' -f2)" "view0:uint8[8,8,1]"
    assert_equal "$(meta out.tsf 'm["schema"]["fields"][2]["shape"]')" "[8, 8, 1]"
    "$AUG" --size 6,9 "$D/rgb.tsf" >out.tsf
    assert_equal "$(fields out.tsf | cut -d' ' -f3)" "view1:uint8[6,9,3]"
}

@test "augment: every step on at once" {
    "$AUG" --vflip 0.5 --rotate 0.5,30 --translate 0.5,0.1 --scale 0.5,0.8,1.2 --blur 0.5,0.1,2 \
        --noise 0.5,0.05 --jitter 1,0.4,0.4,0.4,0.1 --grayscale 0.5 -o out.tsf "$D/rgb.tsf"
    py_validate out.tsf
    assert_equal "$(count_records out.tsf)" 20
    assert_equal "$(meta out.tsf 'm["config"]["augment"]["rotate"]')" "{'degrees': 30.0, 'p': 0.5}"
}

@test "augment: empty stream gives an empty stream" {
    "$AUG" "$D/s0.tsf" >out.tsf
    py_validate out.tsf
    assert_equal "$(count_records out.tsf)" 0
}

# --- determinism ----------------------------------------------------------------------

@test "augment: same output for any --threads" {
    "$AUG" --seed 5 --views 3 "$D/rgb.tsf" >t1.tsf
    "$AUG" --seed 5 --views 3 --threads 2 "$D/rgb.tsf" >t2.tsf
    "$AUG" --seed 5 --views 3 --threads 7 "$D/rgb.tsf" >t7.tsf
    assert_equal "$(records_dump t2.tsf)" "$(records_dump t1.tsf)"
    assert_equal "$(records_dump t7.tsf)" "$(records_dump t1.tsf)"
    "$AUG" --seed 5 --epochs 2 --shuffle "$D/big.tsf" >b1.tsf
    "$AUG" --seed 5 --epochs 2 --shuffle --threads 3 "$D/big.tsf" >b3.tsf
    assert_equal "$(records_dump b3.tsf | md5sum)" "$(records_dump b1.tsf | md5sum)"
}

@test "augment: same output for any input chunking" {
    "$AUG" --seed 2 "$D/s30.tsf" >file.tsf
    "$TSF" cat "$D/s30.tsf" | "$AUG" --seed 2 >piped.tsf
    "$TSF" cat -z "$D/s30.tsf" | "$AUG" --seed 2 >zstd.tsf
    "$AUG" --seed 2 "$D/s30z.tsf" >z.tsf
    assert_equal "$(records_dump piped.tsf)" "$(records_dump file.tsf)"
    assert_equal "$(records_dump zstd.tsf)" "$(records_dump file.tsf)"
    assert_equal "$(records_dump z.tsf)" "$(records_dump file.tsf)"
}

@test "augment: the seed decides the views" {
    "$AUG" --seed 2 "$D/s30.tsf" >a.tsf
    "$AUG" --seed 2 "$D/s30.tsf" >b.tsf
    "$AUG" --seed 3 "$D/s30.tsf" >c.tsf
    assert_equal "$(records_dump b.tsf)" "$(records_dump a.tsf)"
    [ "$(records_dump c.tsf)" != "$(records_dump a.tsf)" ]
}

@test "augment: pinned output for seed 7" {
    # The views of a fixed input are fixed bytes; a change here changes every
    # training run, so it must be deliberate.
    "$AUG" --seed 7 --views 2 "$D/rgb.tsf" >out.tsf
    assert_equal "$(records_dump out.tsf | md5sum | cut -c1-32)" 6934f53bae058febbe78685a7050b565
}

# --- skip, epochs and shuffle ---------------------------------------------------------

@test "augment: --skip equals the tail of the full output" {
    "$AUG" --seed 4 --epochs 3 "$D/s30.tsf" >full.tsf
    "$TSF" take --skip 37 full.tsf >tail.tsf
    "$AUG" --seed 4 --epochs 3 --skip 74 "$D/s30.tsf" >part.tsf
    assert_equal "$(count_records part.tsf)" 53
    assert_equal "$(records_dump part.tsf)" "$(records_dump tail.tsf)"
}

@test "augment: --skip with --shuffle equals the tail" {
    "$AUG" --seed 4 --epochs 3 --shuffle --views 3 "$D/s30.tsf" >full.tsf
    "$TSF" take --skip 45 full.tsf >tail.tsf
    "$AUG" --seed 4 --epochs 3 --shuffle --views 3 --skip 135 "$D/s30.tsf" >part.tsf
    assert_equal "$(records_dump part.tsf)" "$(records_dump tail.tsf)"
}

@test "augment: --skip past the end gives an empty stream" {
    "$AUG" --skip 1000 "$D/s30.tsf" >out.tsf
    py_validate out.tsf
    assert_equal "$(count_records out.tsf)" 0
}

@test "augment: --epochs 2 --shuffle visits every record twice in two orders" {
    "$AUG" --seed 8 --epochs 2 --shuffle "$D/s30.tsf" >out.tsf
    assert_equal "$(count_records out.tsf)" 60
    keys out.tsf >k.txt
    head -30 k.txt >e0.txt
    tail -30 k.txt >e1.txt
    assert_equal "$(sort e0.txt)" "$(keys "$D/s30.tsf" | sort)"
    assert_equal "$(sort e1.txt)" "$(keys "$D/s30.tsf" | sort)"
    [ "$(cat e0.txt)" != "$(cat e1.txt)" ]
    [ "$(cat e0.txt)" != "$(keys "$D/s30.tsf")" ]
}

@test "augment: the first shuffled epoch is selfsup-tsf shuffle's order" {
    "$AUG" --seed 8 --shuffle "$D/s30.tsf" >out.tsf
    "$TSF" shuffle --seed 8 "$D/s30.tsf" >ref.tsf
    assert_equal "$(keys out.tsf)" "$(keys ref.tsf)"
}

@test "augment: --epochs 2 rereads a file in order with new views" {
    "$AUG" --seed 8 --epochs 2 "$D/s30.tsf" >out.tsf
    assert_equal "$(count_records out.tsf)" 60
    keys out.tsf >k.txt
    assert_equal "$(head -30 k.txt)" "$(tail -30 k.txt)"
    py '
r = [r for m, r in tsf.read(sys.argv[1])]
same = sum(np.array_equal(r[i]["view0"], r[i + 30]["view0"]) for i in range(30))
assert same < 5, same
' out.tsf
}

# --- failures -------------------------------------------------------------------------

@test "augment: missing file" {
    run --separate-stderr "$AUG" no-such-file.tsf
    assert_failure 1
    assert_equal "$output" ""
    [[ "$stderr" == *"no-such-file.tsf"* ]] || fail "$stderr"
}

@test "augment: input that is not a stream" {
    printf 'not a stream at all' >bad.tsf
    run --separate-stderr "$AUG" bad.tsf
    assert_failure 1
    assert_equal "$output" ""
}

@test "augment: upstream ABRT travels" {
    run --separate-stderr bash -c '
        "$PYTHON" -c "
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import tsf
w = tsf.Writer(sys.stdout.buffer, {\"kind\": \"samples\"})
for i in range(5):
    w.write({\"key\": \"k%d\" % i, \"image\": np.zeros((4, 4, 1), np.uint8)})
w.flush()
w.abort(\"disk on fire\")
" "$FORMATS" | "$1" >out.tsf' _ "$AUG"
    assert_failure 1
    [[ "$stderr" == *"disk on fire"* ]] || fail "$stderr"
    run chunk_tags out.tsf
    assert_line "ABRT 0"
    refute_line "ENDS 0"
}

@test "augment: truncated input fails and aborts the output" {
    run --separate-stderr bash -c 'head -c 100000 "$1" | "$2" >out.tsf' _ "$D/big.tsf" "$AUG"
    assert_failure 1
    run chunk_tags out.tsf
    assert_line "ABRT 0"
}

@test "augment: records without an image" {
    py '
w = tsf.Writer(open("noimage.tsf", "wb"), {"kind": "samples"})
w.write({"key": "a", "pixels": np.zeros((2, 2, 1), np.uint8)})
w.end()
'
    run --separate-stderr "$AUG" noimage.tsf
    assert_failure 1
    [[ "$stderr" == *"no field 'image'"* ]] || fail "$stderr"
}

@test "augment: images of the wrong type or rank" {
    py '
w = tsf.Writer(open("int16.tsf", "wb"), {"kind": "samples"})
w.write({"key": "a", "image": np.zeros((2, 2, 1), np.int16)})
w.end()
w = tsf.Writer(open("flat.tsf", "wb"), {"kind": "samples"})
w.write({"key": "a", "image": np.zeros((4,), np.uint8)})
w.end()
w = tsf.Writer(open("nan.tsf", "wb"), {"kind": "samples"})
w.write({"key": "a", "image": np.full((2, 2, 1), np.nan, np.float32)})
w.end()
'
    run --separate-stderr "$AUG" int16.tsf
    assert_failure 1
    [[ "$stderr" == *"int16"* ]] || fail "$stderr"
    run --separate-stderr "$AUG" flat.tsf
    assert_failure 1
    [[ "$stderr" == *"[H,W,C]"* ]] || fail "$stderr"
    run --separate-stderr "$AUG" nan.tsf
    assert_failure 1
    [[ "$stderr" == *"non-finite"* ]] || fail "$stderr"
}

@test "augment: a views stream is not a samples stream" {
    "$AUG" "$D/s30.tsf" >views.tsf
    run --separate-stderr "$AUG" views.tsf
    assert_failure 1
    [[ "$stderr" == *"kind 'views'"* ]] || fail "$stderr"
}

@test "augment: --max-memory limits --shuffle" {
    run --separate-stderr "$AUG" --shuffle --max-memory 1 "$D/big.tsf"
    assert_failure 1
    [[ "$stderr" == *"--max-memory"* ]] || fail "$stderr"
    "$AUG" --shuffle --max-memory 2 "$D/big.tsf" >out.tsf
    assert_equal "$(count_records out.tsf)" 400
}

@test "augment: -o writes the file only on success" {
    "$AUG" -o out.tsf "$D/s30.tsf"
    py_validate out.tsf
    printf 'old contents' >keep.tsf
    run --separate-stderr "$AUG" -o keep.tsf no-such-file.tsf
    assert_failure 1
    assert_equal "$(cat keep.tsf)" "old contents"
}
