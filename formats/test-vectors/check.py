#!/usr/bin/python3
"""Check the TSF test vectors against expected.tsv and print TAP.

    check.py                  run formats/tsf.py in-process over every vector, then
                              round-trip, command-line, truncation and bit-flip checks
    check.py --cmd 'bin/selfsup-tsf validate'
                              run another validator on every vector instead: it must exit 0
                              on valid files (and print "N records" if it prints a count)
                              and exit non-zero with the expected substring on stderr

Exits 1 when any check fails.
"""
import io
import os
import shlex
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TSF_PY = os.path.join(os.path.dirname(HERE), "tsf.py")
sys.path.insert(0, os.path.dirname(HERE))
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
import tsf  # noqa: E402


class Tap:
    def __init__(self):
        self.n = self.failed = 0

    def check(self, ok, name, detail=""):
        self.n += 1
        self.failed += not ok
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, name, "" if ok else "  # " + detail))


def load_expected():
    rows = []
    with open(os.path.join(HERE, "expected.tsv")) as f:
        for line in f:
            path, status, expect = line.rstrip("\n").split("\t")
            rows.append((path, status, expect))
    return rows


def read_all(data):
    """Return [(meta, [records])] for every stream, or raise TSFError."""
    return [(meta, list(records)) for meta, records in tsf.Reader(io.BytesIO(data)).streams()]


def outcome(data):
    """Return ("ok", n_records) or ("error", message) as tsf.py reads the bytes."""
    try:
        return "ok", sum(len(records) for _, records in read_all(data))
    except tsf.TSFError as e:
        return "error", str(e)


def same_value(a, b):
    if isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
        return type(a) is type(b) and a == b
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def same_streams(x, y):
    return len(x) == len(y) and all(
        mx == my and len(rx) == len(ry) and all(
            list(a) == list(b) and all(same_value(a[k], b[k]) for k in a) for a, b in zip(rx, ry))
        for (mx, rx), (my, ry) in zip(x, y))


def check_vector(tap, path, status, expect, cmd):
    with open(os.path.join(HERE, path), "rb") as f:
        data = f.read()
    if cmd:
        run = subprocess.run(cmd + [os.path.join(HERE, path)], capture_output=True, text=True, errors="replace")
        if status == "ok":
            counted = "records" not in run.stdout or (" %s records" % expect) in run.stdout
            tap.check(run.returncode == 0 and counted, path, "exit %d, stdout %r, stderr %r"
                      % (run.returncode, run.stdout.strip(), run.stderr.strip()))
        else:
            tap.check(run.returncode != 0 and expect in run.stderr, path, "expected %r, exit %d, stderr %r"
                      % (expect, run.returncode, run.stderr.strip()))
        return
    got, detail = outcome(data)
    if status == "ok":
        tap.check(got == "ok" and str(detail) == expect, path, "expected %s records, got %s %s" % (expect, got, detail))
    else:
        tap.check(got == "error" and expect in detail, path, "expected %r, got %s %s" % (expect, got, detail))


def check_round_trip(tap, rows):
    """Copy every valid vector with the writer, plain and zstd, and compare what is read back."""
    bad = []
    for path, status, _ in rows:
        if status != "ok":
            continue
        original = read_all(open(os.path.join(HERE, path), "rb").read())
        for codec in (0, 1):
            out = io.BytesIO()
            for meta, records in original:
                w = tsf.Writer(out, meta, codec=codec, chunk_target=100)
                for r in records:
                    w.write(r)
                w.end()
            if not same_streams(original, read_all(out.getvalue())):
                bad.append("%s codec %d" % (path, codec))
    tap.check(not bad, "writer round trip of valid vectors, codec 0 and 1", ", ".join(bad))


def check_cli(tap):
    good, broken = os.path.join(HERE, "valid/label-int64.tsf"), os.path.join(HERE, "invalid/payload-crc.tsf")
    run = subprocess.run([sys.executable, TSF_PY, "validate", good, broken], capture_output=True, text=True)
    tap.check(run.returncode == 1 and run.stdout == "%s: 1 streams, 1 records\n" % good
              and run.stderr.startswith(broken + ": byte ") and "payload CRC mismatch" in run.stderr,
              "tsf.py validate exit status and output", repr(run))
    copy = subprocess.run([sys.executable, TSF_PY, "copy", good, "-", "--zstd"], capture_output=True)
    tap.check(copy.returncode == 0 and outcome(copy.stdout) == ("ok", 1), "tsf.py copy to stdout", repr(copy)[:300])


def sample_stream(codec):
    out = io.BytesIO()
    w = tsf.Writer(out, {"kind": "samples"}, codec=codec, chunk_target=150, flush_after=float("inf"))
    for i in range(5):
        w.write({"key": "s%d" % i, "image": np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * i,
                 "label": np.int64(i), "flags": np.array([True, False])})
    w.end()
    return out.getvalue()


def check_damage(tap):
    """Every cut and every single-bit flip of a sample stream must be rejected."""
    plain = sample_stream(0)
    assert outcome(plain) == ("ok", 5)
    accepted = [n for n in range(len(plain)) if outcome(plain[:n])[0] == "ok"]
    tap.check(not accepted, "all %d truncations of a %d-byte stream rejected" % (len(plain), len(plain)),
              "accepted lengths %s" % accepted[:10])
    for name, data in (("uncompressed", plain), ("zstd", sample_stream(1))):
        reference = read_all(data)
        accepted = []
        for bit in range(len(data) * 8):
            flipped = bytearray(data)
            flipped[bit // 8] ^= 1 << (bit % 8)
            try:
                streams = read_all(bytes(flipped))
            except tsf.TSFError:
                continue
            # Inside zstd data a flip may decode to the same bytes, which the payload CRC then accepts.
            if name == "uncompressed" or not same_streams(reference, streams):
                accepted.append(bit)
        tap.check(not accepted, "all %d bit flips of a %d-byte %s stream rejected or harmless"
                  % (len(data) * 8, len(data), name), "accepted bits %s" % accepted[:10])


def main(argv):
    cmd = shlex.split(argv[argv.index("--cmd") + 1]) if "--cmd" in argv else None
    rows = load_expected()
    tap = Tap()
    listed = {path for path, _, _ in rows}
    on_disk = {"%s/%s" % (d, n) for d in ("valid", "invalid") for n in os.listdir(os.path.join(HERE, d))}
    tap.check(listed == on_disk, "expected.tsv lists exactly the files on disk", str(listed ^ on_disk))
    for path, status, expect in rows:
        check_vector(tap, path, status, expect, cmd)
    if not cmd:
        check_round_trip(tap, rows)
        check_cli(tap)
        check_damage(tap)
    print("1..%d" % tap.n)
    if tap.failed:
        print("# %d of %d checks failed" % (tap.failed, tap.n))
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
