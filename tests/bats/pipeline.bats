#!/usr/bin/env bats
# The Fashion-MNIST experiment's make pipeline, run end to end with the smoke preset on
# tiny synthetic IDX files: every stage, baseline, figure and the report must come out.
# The accuracies of so few steps mean nothing and are not checked.

load helpers

setup() {
    command -v gnuplot >/dev/null || skip "gnuplot is not installed (make deps installs it)"
    DATA="$BATS_TEST_TMPDIR/data"
    OUT="$BATS_TEST_TMPDIR/out"
    mkdir "$DATA"
    # 800 training and 100 test images of 10 classes: a bright band whose row
    # follows the class, over seeded noise.
    fake_idx train 800 1
    fake_idx t10k 100 2
}

# fake_idx SET N SEED: write SET-images-idx3-ubyte.gz and SET-labels-idx1-ubyte.gz.
fake_idx() {
    local n=$2 seed=$3
    write_idx "$DATA/$1-images-idx3-ubyte.gz" "(np.random.default_rng($seed).integers(0, 60, ($n, 28, 28))
        + 150 * (np.arange(28)[None, :, None] // 3 == (np.arange($n) % 10)[:, None, None])).astype(np.uint8)" gz
    write_idx "$DATA/$1-labels-idx1-ubyte.gz" "(np.arange($n) % 10).astype(np.uint8)" gz
}

# smoke_make [ARG]...: the pipeline with the smoke preset on the synthetic data.
smoke_make() {
    make --no-print-directory -C "$ROOT" -f pipelines/fashion-mnist.mk \
        PRESET=smoke BIN="$BIN" PYTHON="$PYTHON" DATA="$DATA" R="$OUT" "$@"
}

@test "the smoke preset runs every stage and writes the report and figures" {
    run smoke_make
    assert_success
    assert_output --partial '| Linear probe, SimCLR features |'
    grep -q 'these accuracies mean nothing' "$OUT/report.md"
    for f in report.md pretrain-loss.png pca.png augmented-views.png confusion.png; do
        [ -s "$OUT/$f" ]
    done
    # Five methods, three budgets, five seeds for the small budgets: 2 x (5 + 5 + 1) + 3 x 11.
    [ "$(ls "$OUT"/work/acc/*.json | wc -l)" -eq 55 ]
    # Intermediate outputs stay for inspection.
    [ -s "$OUT/work/emb-simclr-val.tsf" ]
    run grep -c ' n/a ' "$OUT/report.md"
    assert_output 0
    run grep -c '^- `selfsup-\(augment\|pretrain simclr\) --' "$OUT/report.md"
    assert_output 2
    # Up to date: a second run has nothing to redo.
    run smoke_make
    assert_success
    refute_output --partial 'selfsup-'
    # A missing result, as after adding a seed, is made again.
    rm "$OUT/work/acc/probe-raw-b10-s2.json"
    run smoke_make
    assert_success
    assert_output --partial 'acc/probe-raw-b10-s2.json'
    [ -s "$OUT/work/acc/probe-raw-b10-s2.json" ]
    # Each small budget's probes share one lambda from the grid, chosen on the
    # validation split and listed in the report; a changed grid chooses again
    # without pretraining.
    run cat "$OUT/work/lambda-simclr-b10.txt"
    assert_output --regexp '^(0.0001|0.001|0.01|0.03|0.1|0.3|1|3|10)$'
    grep -q '^| Logistic regression, raw pixels | [0-9.]* | [0-9.]* | [0-9.e-]* |$' "$OUT/report.md"
    run smoke_make SMALL_GRID=0.5
    assert_success
    assert_output --partial 'choose_lambda.py'
    refute_output --partial 'selfsup-pretrain simclr -o'
    refute_output --partial 'probe-raw-sub-b100-s1.tsf'
    refute_output --partial 'ft-scratch-'
    for f in "$OUT"/work/lambda-*-b*.txt; do
        [ "$(cat "$f")" = 0.5 ]
    done
    # A changed finetuning setting reruns finetuning, but not pretraining.
    run smoke_make FT_LR_HEAD=0.002
    assert_success
    assert_output --partial 'selfsup-finetune -q -c'
    refute_output --partial 'selfsup-pretrain simclr -o'
    assert_output --partial 'report.md'
    run smoke_make FT_LR_HEAD=0.002
    assert_success
    refute_output --partial 'selfsup-'
    # A changed encoder reruns both pretrained and random-init networks.
    run smoke_make ENCODER=conv3x3:8,relu,maxpool2,linear:16
    assert_success
    assert_output --partial 'selfsup-pretrain simclr -o'
    assert_output --partial '--steps 0 --seed 1'
}

@test "an unknown preset is refused with the list of presets" {
    run smoke_make PRESET=huge
    assert_failure
    assert_output --partial "PRESET must be quick, full or smoke, not 'huge'"
}
