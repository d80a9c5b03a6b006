#!/usr/bin/python3
"""The scikit-learn side of bench/probe_bench.sh, and its input generator.

    probe_sklearn.py features TRAIN_IMAGES.gz TRAIN_LABELS.gz TEST_IMAGES.gz TEST_LABELS.gz OUTDIR
        Write OUTDIR/{train,test}.tsf (embeddings streams: key, embedding float32 [128],
        label int64) and OUTDIR/{train,test}.npz with the same arrays. The features are
        tanh(pixels / 255 . R) for a fixed Gaussian matrix R [784, 128] (seed 0) scaled
        by 1/sqrt(784): random projections of Fashion-MNIST, a stand-in for learned
        embeddings when no pretrained checkpoint is at hand.
    probe_sklearn.py npz TRAIN.tsf TEST.tsf OUTDIR
        Convert two embeddings streams (e.g. from selfsup-embed) into the .npz files.
    probe_sklearn.py fit TRAIN.npz TEST.npz LAMBDA
        Standardise with StandardScaler, fit LogisticRegression(C = 1 / (LAMBDA N),
        solver="lbfgs", max_iter=10000, default tol) and print one JSON line: fit
        seconds (scaler and fit, not loading or imports), iterations, train and test
        accuracy.
    probe_sklearn.py accuracy PREDICTIONS.tsf
        Print the share of records of a predictions stream whose label equals target.
"""
import gzip
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "formats"))
import tsf  # noqa: E402

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    """Return the array stored in a gzip IDX file of unsigned bytes."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 8:
        raise SystemExit("%s: not an unsigned-byte IDX file" % path)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_embeddings(path, name, x, y):
    meta = {"kind": "embeddings", "classes": CLASSES}
    with open(path, "wb") as f:
        w = tsf.Writer(f, meta, flush_after=1e9)
        for i in range(len(x)):
            w.write({"key": "%s:%d" % (name, i), "embedding": x[i], "label": np.int64(y[i])})
        w.end()


def features(argv):
    train_images, train_labels, test_images, test_labels, out = argv
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    projection = (rng.standard_normal((784, 128)) / np.sqrt(784)).astype(np.float32)
    os.makedirs(out, exist_ok=True)
    for name, images, labels in (("train", train_images, train_labels), ("test", test_images, test_labels)):
        pixels = read_idx(images).reshape(-1, 784).astype(np.float32) / 255
        x = np.tanh(pixels @ projection).astype(np.float32)
        y = read_idx(labels).astype(np.int64)
        write_embeddings(os.path.join(out, name + ".tsf"), name, x, y)
        np.savez(os.path.join(out, name + ".npz"), x=x, y=y)


def to_npz(argv):
    train, test, out = argv
    os.makedirs(out, exist_ok=True)
    for name, path in (("train", train), ("test", test)):
        xs, ys = [], []
        for _, record in tsf.read(path):
            xs.append(np.asarray(record["embedding"], np.float32).ravel())
            ys.append(int(record["label"]))
        np.savez(os.path.join(out, name + ".npz"), x=np.stack(xs), y=np.array(ys, np.int64))


def fit(argv):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train, test, lam = np.load(argv[0]), np.load(argv[1]), float(argv[2])
    x, y = train["x"].astype(np.float64), train["y"]
    start = time.perf_counter()
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1 / (lam * len(x)), solver="lbfgs", max_iter=10000)
    model.fit(scaler.transform(x), y)
    seconds = time.perf_counter() - start
    test_x = scaler.transform(test["x"].astype(np.float64))
    print(json.dumps({"seconds": seconds, "iterations": int(model.n_iter_[0]),
                      "train_accuracy": float(model.score(scaler.transform(x), y)),
                      "test_accuracy": float(model.score(test_x, test["y"]))}))


def accuracy(argv):
    right = total = 0
    for _, record in tsf.read(argv[0]):
        right += int(record["label"]) == int(record["target"])
        total += 1
    print("%.6f" % (right / total))


def main(argv):
    commands = {"features": (features, 5), "npz": (to_npz, 3), "fit": (fit, 3), "accuracy": (accuracy, 1)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    commands[argv[1]][0](argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
