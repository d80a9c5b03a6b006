"""Choose one L2 strength for the linear probes of several labelled subsets.

    choose_lambda.py --bin BIN --grid LIST --val VAL -o OUT SUBSET...

Fits selfsup-probe on each SUBSET with every lambda of LIST and scores each fit
on the validation embeddings VAL (selfsup-probe --val). Writes to OUT the
lambda with the best validation accuracy averaged over the subsets and prints
the table of mean accuracies. Means within TIE of the best count as a tie,
and the largest of those lambdas wins. The warm starts of selfsup-probe make a
fit depend slightly on the rest of the grid, so such gaps are noise, and the
stronger regularisation is the safer pick between them.

With 10 labels per class, cross-validation on the labels themselves scores
each strength on folds of 20 images, and its choice swings from one subset to
the next. This script gives each method and budget one strength instead,
chosen on the validation split like the experiment's other settings.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "formats"))
import tsf  # noqa: E402

# An accuracy gap of 1e-4 (0.01 percentage points) is half of one image of a
# 5,000-image validation split.
TIE = 1e-4


def fail(message):
    sys.exit(f"choose_lambda.py: {message}")


def holdout_table(probe):
    """Return {lambda: validation accuracy} from a probe checkpoint's metadata."""
    meta, _ = next(tsf.read(probe))
    return {float(row["lambda"]): float(row["val_accuracy"]) for row in meta["config"]["holdout"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="folder that contains selfsup-probe")
    parser.add_argument("--grid", required=True, help="comma-separated lambdas")
    parser.add_argument("--val", required=True, help="labelled validation embeddings")
    parser.add_argument("-o", "--output", required=True, help="file that receives the chosen lambda")
    parser.add_argument("subsets", nargs="+", help="labelled embeddings, one stream per subset")
    args = parser.parse_args()
    probe_tool = os.path.join(args.bin, "selfsup-probe")
    if not os.access(probe_tool, os.X_OK):
        fail(f"--bin {args.bin}: selfsup-probe not found there (run make first, or pass the folder that contains it)")
    for path in [args.val] + args.subsets:
        if not os.path.isfile(path):
            fail(f"{path}: file not found")
    out_dir = os.path.dirname(args.output) or "."
    if not os.path.isdir(out_dir):
        fail(f"-o {args.output}: folder {out_dir} not found")

    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, subset in enumerate(args.subsets):
            probe = os.path.join(tmp, f"probe-{i}.tsf")
            command = [probe_tool, "-q", "--val", args.val, "--grid", args.grid,
                       "-o", probe, subset]
            # selfsup-probe prints its own error, so only the exit status is added here.
            if subprocess.run(command).returncode != 0:
                fail(f"selfsup-probe --val {args.val} --grid {args.grid} failed on {subset}")
            for lam, acc in holdout_table(probe).items():
                scores.setdefault(lam, []).append(acc)

    means = {lam: statistics.fmean(accs) for lam, accs in scores.items() if len(accs) == len(args.subsets)}
    if not means:
        fail(f"no lambda of '{args.grid}' was scored on every subset")
    top = max(means.values())
    best = max(lam for lam, mean in means.items() if mean >= top - TIE)
    count = len(args.subsets)
    print(f"lambda chosen on {args.val}, mean validation accuracy over {count} subset{'s' if count > 1 else ''}:")
    for lam in sorted(means):
        print(f"  lambda {lam:<8g} {100 * means[lam]:.3f}{'  <- chosen' if lam == best else ''}")
    if len(means) > 1 and best in (min(means), max(means)):
        print(f"choose_lambda.py: warning: the chosen lambda {best:g} is at the edge of the grid, "
              "so the best value may lie outside it (widen the grid)", file=sys.stderr)

    tmp_out = args.output + ".tmp"
    with open(tmp_out, "w") as f:
        f.write(f"{best:g}\n")
    os.replace(tmp_out, args.output)


if __name__ == "__main__":
    main()
