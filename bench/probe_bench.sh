#!/bin/sh
# Time selfsup-probe against scikit-learn's LogisticRegression (lbfgs) on 60,000
# Fashion-MNIST feature vectors of size 128 and write docs/probe-benchmark.md.
#
# Features: with PROBE_CHECKPOINT set, selfsup-embed of that checkpoint on the training
# and test images; otherwise random projections tanh(pixels . R) made by
# bench/probe_sklearn.py (R [784, 128] Gaussian, seed 0). Both sides fit the same
# objective on the same standardised features: selfsup-probe --lambda L, and
# StandardScaler + LogisticRegression(C = 1 / (L N), solver="lbfgs", max_iter=10000)
# with scikit-learn's default tol. Rounds alternate (selfsup, sklearn, selfsup, ...).
# selfsup's time is the whole command: read the stream, standardise, fit, write the
# model. sklearn's time is the scaler and fit inside Python, without imports or loading.
#
# Environment: FMNIST_DIR (default /usr/share/datasets/fashion-mnist), PROBE_LAMBDA
# (default 1e-4), PROBE_REPS (rounds, default 5), PROBE_THREADS (default: all CPUs),
# PROBE_CHECKPOINT (optional network checkpoint).
set -eu
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
PROBE=bin/selfsup-probe
OUT=bench/out/probe
DATA=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
LAMBDA=${PROBE_LAMBDA:-1e-4}
REPS=${PROBE_REPS:-5}
THREADS=${PROBE_THREADS:-$(nproc)}

for f in "$PROBE" "$DATA/train-images-idx3-ubyte.gz" "$DATA/t10k-images-idx3-ubyte.gz"; do
    if [ ! -e "$f" ]; then
        echo "bench/probe_bench.sh: $f not found (run 'make' first; set FMNIST_DIR for the data)" >&2
        exit 1
    fi
done
if ! $PY -c 'import sklearn' 2>/dev/null; then
    echo "bench/probe_bench.sh: $PY cannot import sklearn (Debian package python3-sklearn)" >&2
    exit 1
fi

mkdir -p "$OUT"
if [ -n "${PROBE_CHECKPOINT:-}" ]; then
    FEATURES="selfsup-embed of $PROBE_CHECKPOINT"
    for part in train t10k; do
        bin/selfsup-tsf import idx -o "$OUT/$part-samples.tsf" \
            "$DATA/$part-images-idx3-ubyte.gz" "$DATA/$part-labels-idx1-ubyte.gz"
    done
    bin/selfsup-embed -c "$PROBE_CHECKPOINT" --threads "$THREADS" -o "$OUT/train.tsf" "$OUT/train-samples.tsf"
    bin/selfsup-embed -c "$PROBE_CHECKPOINT" --threads "$THREADS" -o "$OUT/test.tsf" "$OUT/t10k-samples.tsf"
    $PY bench/probe_sklearn.py npz "$OUT/train.tsf" "$OUT/test.tsf" "$OUT"
else
    FEATURES="random projections tanh(pixels / 255 . R), R [784, 128] Gaussian (bench/probe_sklearn.py features)"
    $PY bench/probe_sklearn.py features "$DATA/train-images-idx3-ubyte.gz" "$DATA/train-labels-idx1-ubyte.gz" \
        "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz" "$OUT"
fi

now() { $PY -c 'import time; print(time.time())'; }
rm -f "$OUT/ours.txt" "$OUT/sklearn.jsonl"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
i=0
while [ "$i" -lt "$REPS" ]; do
    i=$((i + 1))
    echo "bench: round $i of $REPS" >&2
    start=$(now)
    $PROBE --lambda "$LAMBDA" --threads "$THREADS" -o "$OUT/model.tsf" "$OUT/train.tsf" 2>"$OUT/ours.err"
    end=$(now)
    echo "$start $end $(grep -o 'in [0-9.]* s' "$OUT/ours.err" | head -1 | cut -d' ' -f2)" >>"$OUT/ours.txt"
    $PY bench/probe_sklearn.py fit "$OUT/train.npz" "$OUT/test.npz" "$LAMBDA" >>"$OUT/sklearn.jsonl"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
$PROBE predict -m "$OUT/model.tsf" -o "$OUT/pred.tsf" "$OUT/test.tsf"
OURS_TEST=$($PY bench/probe_sklearn.py accuracy "$OUT/pred.tsf")

$PY - "$OUT" "$LAMBDA" "$THREADS" "$OURS_TEST" "$FEATURES" "$LOAD_BEFORE" "$LOAD_AFTER" <<'EOF'
import json, platform, statistics, subprocess, sys
sys.path.insert(0, "formats")
import tsf

out, lam, threads, ours_test, features, load_before, load_after = sys.argv[1:]
ours = [[float(v) for v in line.split()] for line in open(out + "/ours.txt")]
ours_wall = [end - start for start, end, _ in ours]
ours_fit = [fit for _, _, fit in ours]
sk = [json.loads(line) for line in open(out + "/sklearn.jsonl")]
sk_time = [r["seconds"] for r in sk]
config = next(iter(tsf.read(out + "/model.tsf")))[0]["config"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
import sklearn
med = statistics.median
ratio = med(sk_time) / med(ours_wall)
gap = abs(config["train_accuracy"] - sk[-1]["train_accuracy"]) * 100
test_gap = abs(float(ours_test) - sk[-1]["test_accuracy"]) * 100
lines = [
    "# selfsup-probe benchmark",
    "",
    "Written by `bench/probe_bench.sh`; rerun it to update this page.",
    "",
    "- Machine: %s, %s CPUs, Linux %s; load average before %s, after %s."
    % (cpu, subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(), platform.release(),
       load_before, load_after),
    "- Data: Fashion-MNIST, 60,000 training and 10,000 test images; features: %s." % features,
    "- selfsup: `selfsup-probe --lambda %s --threads %s -o model.tsf train.tsf`, timed as a whole "
    "command (read, standardise, fit, write)." % (lam, threads),
    "- scikit-learn %s: `StandardScaler` then `LogisticRegression(C=1/(%s*60000), solver=\"lbfgs\", "
    "max_iter=10000)`, default tol, timed in-process (scaler and fit only)." % (sklearn.__version__, lam),
    "- %d rounds in alternation; medians, with min-max in brackets." % len(ours),
    "",
    "| | selfsup-probe | scikit-learn |",
    "|---|---|---|",
    "| time, s | %.2f [%.2f-%.2f] (fit alone %.2f) | %.2f [%.2f-%.2f] |"
    % (med(ours_wall), min(ours_wall), max(ours_wall), med(ours_fit), med(sk_time), min(sk_time), max(sk_time)),
    "| iterations | %d | %d |" % (config["iterations"], sk[-1]["iterations"]),
    "| train accuracy | %.4f | %.4f |" % (config["train_accuracy"], sk[-1]["train_accuracy"]),
    "| test accuracy | %.4f | %.4f |" % (float(ours_test), sk[-1]["test_accuracy"]),
    "",
    "Speed-up (median sklearn time / median selfsup time): %.1fx (target >= 3x: %s). "
    "Accuracy gap: %.2f points train, %.2f points test (target <= 0.3: %s)."
    % (ratio, "met" if ratio >= 3 else "missed", gap, test_gap,
       "met" if max(gap, test_gap) <= 0.3 else "missed"),
    "",
    "The two solvers stop by different rules: selfsup-probe when every component of the "
    "gradient of its mean-loss objective is within 1e-4 of 0 (converged: %s, max |gradient| "
    "%.1e). scikit-learn's lbfgs path minimises sum CE + ||W||^2 / (2C), N = 60,000 times that "
    "objective (sklearn/linear_model/_logistic.py in version %s), with scipy's L-BFGS-B, which "
    "stops when max |gradient| <= tol on that scale or when f falls by less than a relative "
    "2.2e-9 (scipy's default ftol) in an iteration. The iteration counts are therefore not "
    "comparable." % (config["converged"], config["gradient_max"], sklearn.__version__),
    "Other processes on the machine slow both sides; compare the load averages above.",
    "",
]
open("docs/probe-benchmark.md", "w").write("\n".join(lines))
print("probe: selfsup %.2f s, sklearn %.2f s, %.1fx; train accuracy %.4f vs %.4f, test %.4f vs %.4f"
      % (med(ours_wall), med(sk_time), ratio, config["train_accuracy"], sk[-1]["train_accuracy"],
         float(ours_test), sk[-1]["test_accuracy"]))
EOF
