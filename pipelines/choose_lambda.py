"""Choose one L2 strength for the linear probes of several labelled subsets.

    choose_lambda.py --bin BIN --grid LIST --val VAL -o OUT SUBSET...

Fits selfsup-probe on each SUBSET with every lambda of LIST and scores each fit
on the validation embeddings VAL (selfsup-probe --val). Writes to OUT the
lambda with the best validation accuracy averaged over the subsets, the larger
one on a tie, and prints the table of mean accuracies.

With 10 labels per class, cross-validation on the labels themselves scores
each strength on folds of 20 images, and its choice swings from one subset to
the next. This script gives each method and budget one strength instead,
chosen on the validation split like the experiment's other settings.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def holdout_table(bin_dir, probe):
    """Return {lambda: validation accuracy} from a probe checkpoint's metadata."""
    info = subprocess.run([os.path.join(bin_dir, "selfsup-tsf"), "info", "--json", probe],
                          check=True, capture_output=True, text=True).stdout
    config = json.loads(info.splitlines()[0])["metadata"]["config"]
    return {float(row["lambda"]): float(row["val_accuracy"]) for row in config["holdout"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True, help="folder that contains selfsup-probe and selfsup-tsf")
    p.add_argument("--grid", required=True, help="comma-separated lambdas")
    p.add_argument("--val", required=True, help="labelled validation embeddings")
    p.add_argument("-o", "--output", required=True, help="file that receives the chosen lambda")
    p.add_argument("subsets", nargs="+", help="labelled embeddings, one stream per subset")
    a = p.parse_args()

    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, subset in enumerate(a.subsets):
            probe = os.path.join(tmp, f"probe-{i}.tsf")
            command = [os.path.join(a.bin, "selfsup-probe"), "-q", "--val", a.val, "--grid", a.grid,
                       "-o", probe, subset]
            # selfsup-probe prints its own error, so only the exit status is added here.
            if subprocess.run(command).returncode != 0:
                sys.exit(f"choose_lambda.py: selfsup-probe failed on {subset}")
            for lam, acc in holdout_table(a.bin, probe).items():
                scores.setdefault(lam, []).append(acc)

    means = {lam: statistics.fmean(accs) for lam, accs in scores.items() if len(accs) == len(a.subsets)}
    if not means:
        sys.exit(f"choose_lambda.py: no lambda of '{a.grid}' was scored on every subset")
    best = max(means, key=lambda lam: (means[lam], lam))
    print(f"lambda chosen on {a.val}, mean validation accuracy over {len(a.subsets)} subsets:")
    for lam in sorted(means):
        print(f"  lambda {lam:<8g} {100 * means[lam]:.2f}{'  <- chosen' if lam == best else ''}")
    if len(means) > 1 and best in (min(means), max(means)):
        print(f"choose_lambda.py: warning: the chosen lambda {best:g} is at the edge of the grid; "
              "the best value may lie outside it (widen the grid)", file=sys.stderr)

    tmp_out = a.output + ".tmp"
    with open(tmp_out, "w") as f:
        f.write(f"{best!r}\n")
    os.replace(tmp_out, a.output)


if __name__ == "__main__":
    main()
