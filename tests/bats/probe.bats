#!/usr/bin/env bats
# selfsup-probe as a user runs it: option errors, input errors, training with a fixed
# lambda and with cross-validation, prediction, and the atomic model file. The embeddings
# are Gaussian blobs that the tests write with formats/tsf.py.

load helpers

PROBE="$BIN/selfsup-probe"

# make_embeddings FILE N [labels|nolabels] [SEED]: N records of key, embedding float32 [6]
# and label int64 in 0..2; class c has mean 4 on feature c, plus unit Gaussian noise.
make_embeddings() {
    py '
path, n, with_labels, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "labels", int(sys.argv[4])
rng = np.random.default_rng(seed)
w = tsf.Writer(open(path, "wb"), {"kind": "embeddings", "classes": ["red", "green", "blue"]})
for i in range(n):
    c = i % 3
    e = (rng.standard_normal(6) + 4 * np.eye(6)[c]).astype(np.float32)
    rec = {"key": "e%04d" % i, "embedding": e}
    if with_labels:
        rec["label"] = np.int64(c)
    w.write(rec)
w.end()
' "$1" "$2" "${3:-labels}" "${4:-0}"
}

setup_file() {
    D=$BATS_FILE_TMPDIR
    make_embeddings "$D/train.tsf" 300 labels 1
    make_embeddings "$D/test.tsf" 150 labels 2
    make_embeddings "$D/unlabelled.tsf" 20 nolabels 3
    "$PROBE" -q --lambda 1e-3 -o "$D/model.tsf" "$D/train.tsf"
}

setup() {
    D=$BATS_FILE_TMPDIR
    mkdir "$BATS_TEST_TMPDIR/work"
    cd "$BATS_TEST_TMPDIR/work"
}

# --- options ---------------------------------------------------------------------------

@test "probe: --help on stdout" {
    run --separate-stderr "$PROBE" --help
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 --partial "Usage: selfsup-probe -o MODEL"
    assert_output --partial "--lambda"
    assert_output --partial "lambda = 1 / (C N)"
}

@test "probe predict: --help on stdout" {
    run --separate-stderr "$PROBE" predict --help
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 --partial "Usage: selfsup-probe predict -m MODEL"
}

@test "probe: --version" {
    run --separate-stderr "$PROBE" --version
    assert_success
    assert_output --regexp '^selfsup-probe [0-9]+\.[0-9]+'
}

@test "probe: missing -o is a usage error" {
    expect_usage_error "$PROBE" "$D/train.tsf"
    assert_equal "${stderr_lines[0]}" "selfsup-probe: the model file -o FILE is required"
}

@test "probe: --lambda with --C is a usage error" {
    expect_usage_error "$PROBE" -o m.tsf --lambda 0.1 --C 1 "$D/train.tsf"
    [ ! -e m.tsf ]
}

@test "probe: --grid with --lambda is a usage error" {
    expect_usage_error "$PROBE" -o m.tsf --lambda 0.1 --grid 1e-3,1e-2 "$D/train.tsf"
}

@test "probe: invalid numbers are usage errors" {
    expect_usage_error "$PROBE" -o m.tsf --lambda -1 "$D/train.tsf"
    expect_usage_error "$PROBE" -o m.tsf --lambda abc "$D/train.tsf"
    expect_usage_error "$PROBE" -o m.tsf --folds 1 "$D/train.tsf"
    expect_usage_error "$PROBE" -o m.tsf --grid 1e-3,,1 "$D/train.tsf"
    expect_usage_error "$PROBE" -o m.tsf --grid 1e-3,x "$D/train.tsf"
    expect_usage_error "$PROBE" -o m.tsf --max-iter -5 "$D/train.tsf"
}

@test "probe: unknown option and extra operand" {
    expect_usage_error "$PROBE" -o m.tsf --frobnicate "$D/train.tsf"
    expect_usage_error "$PROBE" -o m.tsf "$D/train.tsf" "$D/test.tsf"
}

@test "probe predict: missing -m is a usage error" {
    expect_usage_error "$PROBE" predict "$D/test.tsf"
    assert_equal "${stderr_lines[0]}" "selfsup-probe predict: the model -m MODEL is required"
}

# --- input errors ------------------------------------------------------------------------

@test "probe: a stream without labels is an error" {
    run --separate-stderr "$PROBE" -o m.tsf --lambda 1e-3 "$D/unlabelled.tsf"
    assert_failure 1
    assert_equal "$output" ""
    assert_equal "$stderr" "selfsup-probe: $D/unlabelled.tsf: record 0 has no 'label' field; training a probe needs labelled embeddings (embed a labelled samples stream)"
    [ ! -e m.tsf ]
}

@test "probe: a missing feature field is an error naming --field" {
    run --separate-stderr "$PROBE" -o m.tsf --lambda 1e-3 --field features "$D/train.tsf"
    assert_failure 1
    assert_output ""
    [[ "$stderr" == *"has no field 'features' (choose the feature field with --field)"* ]]
}

@test "probe: a truncated stream fails and writes no model" {
    head -c 20000 "$D/train.tsf" > cut.tsf
    run --separate-stderr "$PROBE" -o m.tsf --lambda 1e-3 cut.tsf
    assert_failure 1
    assert_output ""
    [ -n "$stderr" ]
    [ ! -e m.tsf ]
}

@test "probe: non-finite features are an error" {
    py '
w = tsf.Writer(open("nan.tsf", "wb"), {"kind": "embeddings"})
w.write({"embedding": np.array([1, np.nan], np.float32), "label": np.int64(0)})
w.end()
'
    run --separate-stderr "$PROBE" -o m.tsf --lambda 1e-3 nan.tsf
    assert_failure 1
    [[ "$stderr" == *"record 0: embedding[1] is nan; features must be finite"* ]]
}

@test "probe predict: a feature size unlike the model's is an error" {
    py '
w = tsf.Writer(open("d4.tsf", "wb"), {"kind": "embeddings"})
w.write({"embedding": np.zeros(4, np.float32)})
w.end()
'
    run --separate-stderr "$PROBE" predict -m "$D/model.tsf" -o p.tsf d4.tsf
    assert_failure 1
    [[ "$stderr" == *"field 'embedding' has 4 values, expected 6"* ]]
    [ ! -e p.tsf ]
}

@test "probe predict: a missing model is an error" {
    run --separate-stderr "$PROBE" predict -m nothere.tsf "$D/test.tsf"
    assert_failure 1
    assert_output ""
    [[ "$stderr" == *"nothere.tsf"* ]]
}

# --- training and prediction ------------------------------------------------------------

@test "probe: the model records lambda, C, convergence and classes" {
    run py '
m = next(iter(tsf.read(sys.argv[1])))[0]
c = m["config"]
print(m["kind"], c["arch"]["type"], c["arch"]["input_dim"], c["arch"]["classes"], c["arch"]["standardize"])
print(c["lambda"], round(c["C"], 6), c["converged"], c["iterations"] > 0, c["train_accuracy"] >= 0.95)
print(",".join(m["classes"]))
' "$D/model.tsf"
    assert_success
    assert_line --index 0 "checkpoint linear 6 3 True"
    assert_line --index 1 "0.001 3.333333 True True True"
    assert_line --index 2 "red,green,blue"
}

@test "probe: train and predict round trip on separable data" {
    run --separate-stderr "$PROBE" predict -m "$D/model.tsf" -o pred.tsf "$D/test.tsf"
    assert_success
    assert_output ""
    run py '
n = right = 0
for m, r in tsf.read(sys.argv[1]):
    assert m["kind"] == "predictions" and m["classes"] == ["red", "green", "blue"]
    assert r["probs"].shape == (3,) and r["logits"].shape == (3,)
    assert abs(float(r["probs"].astype(np.float64).sum()) - 1) < 1e-5, r["probs"]
    assert int(r["label"]) == int(np.argmax(r["logits"]))
    right += int(r["label"]) == int(r["target"])
    n += 1
print(n, r["key"], right / n >= 0.95)
' pred.tsf
    assert_success
    assert_output "150 e0149 True"
}

@test "probe predict: input without labels has no target field" {
    "$PROBE" predict -m "$D/model.tsf" "$D/unlabelled.tsf" > pred.tsf
    run py '
fields = set()
for m, r in tsf.read(sys.argv[1]):
    fields |= set(r)
print(" ".join(sorted(fields)))
' pred.tsf
    assert_output "key label logits probs"
}

@test "probe: --C equals --lambda 1/(C N)" {
    "$PROBE" -q --C 0.01 -o c.tsf "$D/train.tsf"
    run py '
m = next(iter(tsf.read(sys.argv[1])))[0]
print(round(m["config"]["lambda"] * 300 * 0.01, 9))
' c.tsf
    assert_output "1.0"
}

@test "probe: cross-validation prints the table and chooses from the grid" {
    run --separate-stderr "$PROBE" --folds 3 --grid 1e-4,1e-2,1 --seed 7 -o cv.tsf "$D/train.tsf"
    assert_success
    assert_output ""
    [[ "$stderr" == *"3-fold cross-validation"* ]]
    [[ "$stderr" == *"<- chosen"* ]]
    [[ "$stderr" == *"train accuracy"* ]]
    run py '
c = next(iter(tsf.read(sys.argv[1])))[0]["config"]
print(c["folds"], len(c["cross_validation"]), c["lambda"] in (1e-4, 1e-2, 1.0))
' cv.tsf
    assert_output "3 3 True"
}

@test "probe: the same seed gives the same model" {
    "$PROBE" -q --folds 3 --grid 1e-3,1e-1 --seed 5 -o a.tsf "$D/train.tsf"
    "$PROBE" -q --folds 3 --grid 1e-3,1e-1 --seed 5 -o b.tsf "$D/train.tsf"
    [ "$(records_dump a.tsf)" = "$(records_dump b.tsf)" ]
}

@test "probe: too few records for the folds is an error" {
    "$TSF" head -n 4 -o four.tsf "$D/train.tsf"
    run --separate-stderr "$PROBE" --folds 5 -o m.tsf four.tsf
    assert_failure 1
    [[ "$stderr" == *"4 records are too few for 5-fold cross-validation"* ]]
}

@test "probe: hitting --max-iter warns and still writes the model" {
    run --separate-stderr "$PROBE" --lambda 1e-6 --max-iter 2 --tol 1e-9 -o m.tsf "$D/train.tsf"
    assert_success
    [[ "$stderr" == *"warning: L-BFGS stopped before convergence (max-iter) after 2 iterations"* ]]
    run py 'print(next(iter(tsf.read(sys.argv[1])))[0]["config"]["converged"])' m.tsf
    assert_output "False"
}

@test "probe: --no-standardize stores mean 0 and std 1" {
    "$PROBE" -q --lambda 1e-3 --no-standardize -o raw.tsf "$D/train.tsf"
    run py '
t = {r["name"]: r["value"] for m, r in tsf.read(sys.argv[1])}
print(bool((t["mean"] == 0).all()), bool((t["std"] == 1).all()))
' raw.tsf
    assert_output "True True"
}

@test "probe: reads standard input and -o replaces the model atomically" {
    echo old > m.tsf
    "$PROBE" -q --lambda 1e-3 -o m.tsf < "$D/train.tsf"
    py_validate m.tsf
    # A failing run leaves the previous model untouched and no temporary file.
    run "$PROBE" -q --lambda 1e-3 -o m.tsf "$D/unlabelled.tsf"
    assert_failure 1
    py_validate m.tsf
    [ "$(ls -A | tr '\n' ' ')" = "m.tsf " ]
}
