#!/usr/bin/python3
"""Load gzip IDX image and label files into numpy arrays: the peer of `selfsup-tsf import idx`.

Decompresses both files, checks the magic numbers and sizes, and reshapes the
bytes into an images array (N, rows, cols) and a labels array (N,). It writes
nothing, so it measures only what any Python training script does first.

    idx_numpy.py IMAGES.gz LABELS.gz
"""
import gzip
import sys

import numpy as np


def load_idx(path, ndim):
    """Return the uint8 array of a gzip IDX file that has ndim dimensions."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 + 4 * ndim or data[:4] != bytes([0, 0, 8, ndim]):
        raise SystemExit("%s: not an unsigned-byte IDX file of rank %d" % (path, ndim))
    dims = tuple(np.frombuffer(data, ">u4", count=ndim, offset=4).astype(np.int64))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main(argv):
    if len(argv) != 3:
        print("usage: idx_numpy.py IMAGES.gz LABELS.gz", file=sys.stderr)
        return 2
    images, labels = load_idx(argv[1], 3), load_idx(argv[2], 1)
    if images.shape[0] != labels.shape[0]:
        raise SystemExit("image and label counts differ: %d, %d" % (images.shape[0], labels.shape[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
