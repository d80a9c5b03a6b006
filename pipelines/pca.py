"""Project an embeddings stream onto its first two principal components and
print "pc1 pc2 label" lines, grouped by label with two blank lines between
groups (gnuplot's index separator), for the PCA figure."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "formats"))
import tsf  # noqa: E402


def main():
    xs, ys = [], []
    with open(sys.argv[1], "rb") as f:
        for _, rec in tsf.read(f):
            xs.append(rec["embedding"])
            ys.append(int(rec["label"]))
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys)
    x -= x.mean(axis=0)
    # The right singular vectors are the principal axes.
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    p = x @ vt[:2].T
    for c in range(int(y.max()) + 1):
        print(f"# class {c}")
        for a, b in p[y == c]:
            print(f"{a:.5f} {b:.5f} {c}")
        print("\n")


if __name__ == "__main__":
    main()
