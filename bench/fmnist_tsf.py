#!/usr/bin/python3
"""Write Fashion-MNIST IDX files (gzip) as a TSF samples stream with formats/tsf.py.

The input generator that bench/run.sh falls back to when `selfsup-tsf import idx`
fails; run.sh uses `selfsup-tsf import` whenever it works.
Records have the fields of `import idx`: key (utf8 "train-images:I"),
image (uint8 [28, 28, 1]) and label (int64), in stored chunks (codec 0) of
about 1 MiB.

    bench/fmnist_tsf.py IMAGES.gz LABELS.gz OUT.tsf
"""
import gzip
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "formats"))
import tsf  # noqa: E402

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    """Return the array stored in a gzip IDX file (big-endian dims after a 4-byte magic)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 8:
        raise SystemExit("%s: not an unsigned-byte IDX file" % path)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main(argv):
    if len(argv) != 4:
        print("usage: fmnist_tsf.py IMAGES.gz LABELS.gz OUT.tsf", file=sys.stderr)
        return 2
    images, labels = read_idx(argv[1]), read_idx(argv[2])
    if len(images) != len(labels):
        raise SystemExit("image and label counts differ: %d, %d" % (len(images), len(labels)))
    with open(argv[3], "wb") as out:
        writer = tsf.Writer(out, {"kind": "samples", "classes": CLASSES}, flush_after=1e9)
        for index, (image, label) in enumerate(zip(images, labels)):
            writer.write({"key": "train-images:%d" % index, "image": image.reshape(28, 28, 1),
                          "label": np.int64(label)})
        writer.end()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
