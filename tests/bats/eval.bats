#!/usr/bin/env bats
# selfsup-eval: reports checked against NumPy computations on generated predictions,
# the JSON and PNG outputs, error handling, and kNN accuracy on synthetic embeddings.

load helpers

EVAL="$BIN/selfsup-eval"

# make_predictions FILE N K [SEED] [TARGET]: write a predictions stream of N records over K
# classes. True classes avoid the last class, so that class is predicted but never present.
# TARGET "none" leaves the target field out.
make_predictions() {
    py '
path, n, k, seed, target = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = np.random.default_rng(seed)
meta = {"kind": "predictions", "classes": ["class %d" % i for i in range(k)]}
f = open(path, "wb")
w = tsf.Writer(f, meta, chunk_target=2048, flush_after=1e9)
for i in range(n):
    t = int(rng.integers(0, k - 1))
    logits = rng.normal(size=k).astype(np.float32)
    logits[t] += 1.5
    probs = np.exp(logits - logits.max())
    probs = (probs / probs.sum()).astype(np.float32)
    r = {"key": "r%04d" % i, "label": np.int64(logits.argmax()), "logits": logits, "probs": probs}
    if target != "none":
        r["target"] = np.int64(t)
    w.write(r)
w.end()
f.close()
' "$1" "$2" "$3" "${4:-0}" "${5:-yes}"
}

# reference_metrics FILE TOPK: print the expected metrics as JSON, computed with NumPy
# from the records: accuracy, macro-F1 over classes occurring as true or predicted class,
# top-k (ties against the target), confusion matrix.
reference_metrics() {
    py '
recs = [r for m, r in tsf.read(sys.argv[1])]
topk = int(sys.argv[2])
k = len(recs[0]["logits"])
t = np.array([int(r["target"]) for r in recs])
p = np.array([int(r["label"]) for r in recs])
cm = np.zeros((k, k), np.int64)
np.add.at(cm, (t, p), 1)
tp, support, predicted = np.diag(cm), cm.sum(1), cm.sum(0)
present = (support + predicted) > 0
f1 = np.where(present, 2 * tp / np.maximum(support + predicted, 1), 0.0)
logits = np.stack([r["logits"] for r in recs])
ahead = (logits >= logits[np.arange(len(t)), t][:, None]).sum(1) - 1
print(json.dumps({"accuracy": float((t == p).mean()), "macro_f1": float(f1[present].mean()),
                  "top_k_accuracy": float((ahead < topk).mean()), "confusion": cm.tolist(),
                  "f1": f1.tolist()}))
' "$1" "$2"
}

# make_embeddings FILE N K D SEED MODE: labelled embeddings, MODE "clustered" (each class a
# tight cluster around its own random centre) or "random" (Gaussian noise, random labels).
make_embeddings() {
    py '
path, n, k, d, seed, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
centres = np.random.default_rng(12345).normal(size=(k, d))
rng = np.random.default_rng(seed)
f = open(path, "wb")
w = tsf.Writer(f, {"kind": "embeddings", "classes": ["c%d" % i for i in range(k)]})
for i in range(n):
    y = int(rng.integers(0, k))
    x = centres[y] + 0.1 * rng.normal(size=d) if mode == "clustered" else rng.normal(size=d)
    w.write({"embedding": x.astype(np.float32), "label": np.int64(y)})
w.end()
f.close()
' "$1" "$2" "$3" "$4" "$5" "$6"
}

# json_get FILE KEY: print one top-level value of a JSON file.
json_get() {
    py 'print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

setup_file() {
    make_predictions "$BATS_FILE_TMPDIR/pred.tsf" 400 6 7
}

setup() {
    P=$BATS_FILE_TMPDIR/pred.tsf
    D=$BATS_TEST_TMPDIR
}

@test "eval: --help prints usage on stdout with status 0" {
    run --separate-stderr "$EVAL" --help
    assert_success
    assert_output --partial "classify"
    assert_output --partial "knn"
    run --separate-stderr "$EVAL" classify --help
    assert_success
    assert_output --partial "--top-k"
    run --separate-stderr "$EVAL" knn --help
    assert_success
    assert_output --partial "--reference"
    assert_output --partial "--threads"
}

@test "eval: usage errors exit 2 with nothing on stdout" {
    expect_usage_error "$EVAL"
    expect_usage_error "$EVAL" frobnicate
    expect_usage_error "$EVAL" classify --no-such-option "$P"
    expect_usage_error "$EVAL" classify --format xml "$P"
    expect_usage_error "$EVAL" classify "$P" "$P"
    expect_usage_error "$EVAL" classify --top-k -1 "$P"
    expect_usage_error "$EVAL" classify --cell-size 0 "$P"
    expect_usage_error "$EVAL" classify --confusion-png - "$P"
    expect_usage_error "$EVAL" knn "$P"
    expect_usage_error "$EVAL" knn --reference "$P" -k 0 "$P"
    expect_usage_error "$EVAL" knn --reference "$P" --temperature 0 "$P"
    expect_usage_error "$EVAL" knn --reference - -
}

@test "eval classify: --top-k above the class count is a usage error" {
    run --separate-stderr "$EVAL" classify --top-k 7 "$P"
    assert_equal "$status" 2
    assert_equal "$output" ""
    [[ "$stderr" == *"--top-k 7"* ]]
}

@test "eval classify: JSON numbers match NumPy" {
    "$EVAL" classify --json "$P" >"$D/r.json"
    reference_metrics "$P" 5 >"$D/ref.json"
    py '
got, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert got["records"] == 400 and got["n_classes"] == 6 and got["top_k"] == 5, got
for key in ("accuracy", "macro_f1", "top_k_accuracy"):
    assert abs(got[key] - want[key]) < 1e-12, (key, got[key], want[key])
assert got["confusion"] == want["confusion"], got["confusion"]
f1 = [c["f1"] for c in got["per_class"]]
assert np.allclose(f1, want["f1"], rtol=0, atol=1e-12), f1
names = [c["name"] for c in got["per_class"]]
assert names == ["class %d" % i for i in range(6)], names
last = got["per_class"][5]
assert last["support"] == 0 and last["undefined"] == ["recall"], last
' "$D/r.json" "$D/ref.json"
}

@test "eval classify: text report matches NumPy and JSON" {
    run --separate-stderr "$EVAL" classify "$P"
    assert_success
    printf '%s\n' "$output" >"$D/r.txt"
    reference_metrics "$P" 5 >"$D/ref.json"
    py '
text, want = open(sys.argv[1]).read().splitlines(), json.load(open(sys.argv[2]))
value = lambda prefix: float(next(l for l in text if l.startswith(prefix)).split()[1 if prefix != "top-5" else 2])
assert abs(value("accuracy:") - want["accuracy"]) <= 5e-5
assert abs(value("macro-F1:") - want["macro_f1"]) <= 5e-5
assert abs(value("top-5") - want["top_k_accuracy"]) <= 5e-5
start = text.index(next(l for l in text if l.startswith("confusion matrix")))
rows = [[int(v) for v in l.split()[1:]] for l in text[start + 2:start + 8]]
assert rows == want["confusion"], rows
' "$D/r.txt" "$D/ref.json"
    assert_output --partial "undefined and reported as 0"
}

@test "eval classify: --format json equals --json" {
    a=$("$EVAL" classify --json "$P")
    b=$("$EVAL" classify --format json "$P")
    assert_equal "$a" "$b"
}

@test "eval classify: -o writes the report to a file" {
    run --separate-stderr "$EVAL" classify -o "$D/report.txt" "$P"
    assert_success
    assert_equal "$output" ""
    grep -q '^accuracy: ' "$D/report.txt"
    [ -z "$(ls -A "$D" | grep '\.tmp\.')" ]
}

@test "eval classify: reads standard input" {
    a=$("$EVAL" classify --json <"$P")
    [[ "$a" == *'"input":"stdin"'* ]]
    b=$("$EVAL" classify --json "$P")
    assert_equal "$(py 'd = json.loads(sys.argv[1]); print(d["accuracy"], d["confusion"])' "$a")" \
        "$(py 'd = json.loads(sys.argv[1]); print(d["accuracy"], d["confusion"])' "$b")"
}

@test "eval classify: --confusion-png writes a PNG of the expected size" {
    run --separate-stderr "$EVAL" classify --json --confusion-png "$D/c.png" "$P"
    assert_success
    # 6 classes of 8-pixel cells with one-pixel grid lines: 6 * 9 + 1 = 55.
    py '
import struct, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, types = 8, b"", []
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(typ + body)
    types.append(typ)
    if typ == b"IHDR":
        w, h, depth, colour = struct.unpack(">IIBB", body[:10])
    if typ == b"IDAT":
        idat += body
    pos += 12 + n
assert types[0] == b"IHDR" and types[-1] == b"IEND", types
assert (w, h, depth, colour) == (55, 55, 8, 2), (w, h, depth, colour)
assert len(zlib.decompress(idat)) == h * (1 + 3 * w)
' "$D/c.png"
    run "$EVAL" classify --cell-size 3 --confusion-png "$D/small.png" "$P"
    assert_success
    assert_equal "$(py 'import struct; print(struct.unpack(">II", open(sys.argv[1], "rb").read()[16:24]))' "$D/small.png")" "(25, 25)"
}

@test "eval classify: predictions without target are rejected" {
    make_predictions "$D/nt.tsf" 20 4 1 none
    run --separate-stderr "$EVAL" classify "$D/nt.tsf"
    assert_equal "$status" 1
    assert_equal "$output" ""
    [[ "$stderr" == *"the predictions have no 'target' field: evaluate against a labelled stream"* ]]
    [[ "$stderr" != *nan* ]]
}

@test "eval classify: an empty stream is an error, not nan" {
    py 'w = tsf.Writer(open(sys.argv[1], "wb"), {"kind": "predictions", "classes": ["a", "b"]}); w.end()' "$D/empty.tsf"
    run --separate-stderr "$EVAL" classify --json "$D/empty.tsf"
    assert_equal "$status" 1
    assert_equal "$output" ""
    [[ "$stderr" == *"no records"* ]]
}

@test "eval classify: a target outside the classes is rejected" {
    py '
w = tsf.Writer(open(sys.argv[1], "wb"), {"kind": "predictions", "classes": ["a", "b"]})
w.write({"label": np.int64(0), "logits": np.zeros(2, np.float32), "target": np.int64(2)})
w.end()' "$D/bad.tsf"
    run --separate-stderr "$EVAL" classify "$D/bad.tsf"
    assert_equal "$status" 1
    assert_equal "$output" ""
    [[ "$stderr" == *"record 0"*"target 2"* ]]
}

@test "eval classify: concatenated streams must share their classes" {
    make_predictions "$D/a.tsf" 10 4 1
    make_predictions "$D/b.tsf" 10 5 2
    cat "$D/a.tsf" "$D/a.tsf" >"$D/same.tsf"
    run "$EVAL" classify --json "$D/same.tsf"
    assert_success
    [[ "$output" == *'"records":20'* ]]
    cat "$D/a.tsf" "$D/b.tsf" >"$D/mixed.tsf"
    run --separate-stderr "$EVAL" classify "$D/mixed.tsf"
    assert_equal "$status" 1
    [[ "$stderr" == *"stream 1"*"classes"* ]]
}

@test "eval classify: tied scores count against the target in top-k" {
    py '
w = tsf.Writer(open(sys.argv[1], "wb"), {"kind": "predictions", "classes": ["a", "b", "c", "d", "e"]})
flat = np.zeros(5, np.float32)
for t in range(5):
    w.write({"label": np.int64(0), "logits": flat, "target": np.int64(t)})
w.end()' "$D/flat.tsf"
    "$EVAL" classify --json --top-k 4 "$D/flat.tsf" >"$D/k4.json"
    py 'd = json.load(open(sys.argv[1])); assert d["top_k_accuracy"] == 0 and d["accuracy"] == 0.2, d' "$D/k4.json"
    "$EVAL" classify --json --top-k 5 "$D/flat.tsf" >"$D/k5.json"
    py 'd = json.load(open(sys.argv[1])); assert d["top_k_accuracy"] == 1, d' "$D/k5.json"
}

@test "eval classify: no top-k by default below five classes" {
    make_predictions "$D/k3.tsf" 30 3 4
    run "$EVAL" classify --json "$D/k3.tsf"
    assert_success
    [[ "$output" != *top_k* ]]
    run "$EVAL" classify "$D/k3.tsf"
    [[ "$output" != *top-* ]]
}

@test "eval knn: clustered embeddings are classified almost perfectly" {
    make_embeddings "$D/ref.tsf" 400 5 16 1 clustered
    make_embeddings "$D/q.tsf" 200 5 16 2 clustered
    run --separate-stderr "$EVAL" knn --json --threads 2 --reference "$D/ref.tsf" "$D/q.tsf"
    assert_success
    printf '%s\n' "$output" >"$D/k.json"
    acc=$(json_get "$D/k.json" accuracy)
    py 'assert float(sys.argv[1]) >= 0.99, sys.argv[1]' "$acc"
    assert_equal "$(json_get "$D/k.json" k)" 20
    assert_equal "$(json_get "$D/k.json" records)" 200
    run "$EVAL" knn --reference "$D/ref.tsf" -k 5 --temperature 0.5 <"$D/q.tsf"
    assert_success
    assert_output --partial "k 5, temperature 0.5"
    assert_output --partial "recall"
}

@test "eval knn: random labels give about chance accuracy" {
    make_embeddings "$D/ref.tsf" 1000 4 8 3 random
    make_embeddings "$D/q.tsf" 1000 4 8 4 random
    "$EVAL" knn --json --threads 1 --reference "$D/ref.tsf" "$D/q.tsf" >"$D/k.json"
    acc=$(json_get "$D/k.json" accuracy)
    py 'assert 0.15 <= float(sys.argv[1]) <= 0.35, sys.argv[1]' "$acc"
}

@test "eval knn: missing labels are rejected in either stream" {
    make_embeddings "$D/ref.tsf" 50 3 4 1 clustered
    py '
w = tsf.Writer(open(sys.argv[1], "wb"), {"kind": "embeddings"})
for i in range(5):
    w.write({"embedding": np.ones(4, np.float32)})
w.end()' "$D/nolabel.tsf"
    run --separate-stderr "$EVAL" knn --reference "$D/ref.tsf" "$D/nolabel.tsf"
    assert_equal "$status" 1
    assert_equal "$output" ""
    [[ "$stderr" == *"nolabel.tsf: record 0: missing 'label'"* ]]
    run --separate-stderr "$EVAL" knn --reference "$D/nolabel.tsf" "$D/ref.tsf"
    assert_equal "$status" 1
    [[ "$stderr" == *"nolabel.tsf: record 0: missing 'label'"* ]]
}

@test "eval knn: embedding dimensions must agree" {
    make_embeddings "$D/ref.tsf" 50 3 4 1 clustered
    make_embeddings "$D/q.tsf" 50 3 5 2 clustered
    run --separate-stderr "$EVAL" knn --reference "$D/ref.tsf" "$D/q.tsf"
    assert_equal "$status" 1
    [[ "$stderr" == *"dimension 5"* ]]
}
