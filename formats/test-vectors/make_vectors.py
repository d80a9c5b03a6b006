#!/usr/bin/python3
"""Generate the TSF v1 test-vector corpus in this directory.

Writes valid/*.tsf, invalid/*.tsf and expected.tsv. Every invalid file breaks
exactly one rule: the bytes are built here field by field, and every CRC that
the broken rule does not concern is computed correctly. `--example` prints
the annotated hex dump used in tensor-stream.md instead.

Output is deterministic. The zstd frames of the valid files come from the
`zstandard` module, so another zstd version may change those bytes but not
their meaning. All other zstd frames are assembled by hand below.
"""
import gzip
import io
import os
import struct
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
import tsf  # noqa: E402

SIG = tsf.SIGNATURE


def pad(b):
    return b + bytes(-len(b) % 8)


def header(meta=b"{}", major=1, minor=0, features=0, meta_len=None, crc=None, padding=None):
    """Build a stream header with metadata and padding. With crc=None the CRC is computed."""
    meta_len = len(meta) if meta_len is None else meta_len
    fixed = SIG + struct.pack("<HHII", major, minor, features, meta_len)
    crc = zlib.crc32(fixed + meta) if crc is None else crc
    padding = bytes(-len(meta) % 8) if padding is None else padding
    return fixed + struct.pack("<I", crc) + meta + padding


def chunk(tag, stored, seq, n=0, codec=0, flags=0, res1=0, res2=0, raw=None,
          stored_len=None, raw_len=None, pcrc=None, hcrc_xor=0, padding=None):
    """Build a chunk: header, stored payload, padding. raw is the decoded payload (default: stored)."""
    raw = stored if raw is None else raw
    head = struct.pack("<4sBBHQQQIII", tag, codec, flags, res1, seq,
                       len(stored) if stored_len is None else stored_len,
                       len(raw) if raw_len is None else raw_len, n,
                       zlib.crc32(raw) if pcrc is None else pcrc, res2)
    padding = bytes(-len(stored) % 8) if padding is None else padding
    return head + struct.pack("<I", zlib.crc32(head) ^ hcrc_xor) + stored + padding


def ends(seq, records, chunks, **kw):
    return chunk(b"ENDS", struct.pack("<QQ", records, chunks), seq, **kw)


def field(dtype, dims, name, data, ndim=None, name_len=None, reserved=0, name_pad=None, data_pad=None):
    """Build one field from bytes of name and data; padding defaults to zeros."""
    name = name.encode() if isinstance(name, str) else name
    head = struct.pack("<BBHI", dtype, len(dims) if ndim is None else ndim,
                       len(name) if name_len is None else name_len, reserved)
    head += b"".join(struct.pack("<Q", d) for d in dims) + name
    head += bytes(-len(head) % 8) if name_pad is None else name_pad
    return head + data + (bytes(-len(data) % 8) if data_pad is None else data_pad)


def record(*fields, n_fields=None, rec_len=None, reserved=0):
    body = b"".join(fields)
    return struct.pack("<QII", 16 + len(body) if rec_len is None else rec_len,
                       len(fields) if n_fields is None else n_fields, reserved) + body


def label(value=7, name="label"):
    return field(8, [], name, struct.pack("<q", value))


LABEL_RECORD = record(label())


def data_stream(*records, meta=b"{}"):
    """Build a valid stream with one DATA chunk that contains these records."""
    payload = b"".join(records)
    return header(meta) + chunk(b"DATA", payload, 0, n=len(records)) + ends(1, len(records), 1)


def one_chunk(payload, n=1, meta=b"{}", **kw):
    """Build a stream of one DATA chunk made by chunk(**kw) and a correct ENDS."""
    return header(meta) + chunk(b"DATA", payload, 0, n=n, **kw) + ends(1, n, 1)


def zframe(content, fcs_flag=None, single=True, window_byte=0, dict_id=0, empty_blocks=0,
           fcs_value=None, block_type=0, block_size=None):
    """Assemble a zstd frame by hand: header, then raw blocks (RFC 8878 section 3.1.1)."""
    if fcs_flag is None:
        fcs_flag = 0 if single and len(content) < 256 else 3
    dict_flag = 0 if not dict_id else 1 if dict_id < 256 else 3
    out = tsf.ZSTD_MAGIC + bytes([fcs_flag << 6 | single << 5 | dict_flag])
    if not single:
        out += bytes([window_byte])
    out += dict_id.to_bytes([0, 1, 2, 4][dict_flag], "little")
    fcs_len = [1 if single else 0, 2, 4, 8][fcs_flag]
    value = len(content) if fcs_value is None else fcs_value
    out += (value - 256 if fcs_flag == 1 else value).to_bytes(fcs_len, "little") if fcs_len else b""
    for _ in range(empty_blocks):
        out += (0 << 3 | 0 << 1 | 0).to_bytes(3, "little")
    size = len(content) if block_size is None else block_size
    return out + (size << 3 | block_type << 1 | 1).to_bytes(3, "little") + content


def zstd(data, level=3, checksum=False):
    import zstandard
    return zstandard.ZstdCompressor(level=level, write_checksum=checksum, write_content_size=True).compress(data)


def write_stream(meta, records, **kw):
    f = io.BytesIO()
    w = tsf.Writer(f, meta, flush_after=float("inf"), **kw)  # no timer flush: output must be deterministic
    for r in records:
        w.write(r)
    w.end()
    return f.getvalue()


DTYPE_SAMPLES = {
    "uint8": np.array([[0, 1, 255]], np.uint8), "int8": np.array([-128, 0, 127], np.int8),
    "uint16": np.array([0, 65535], np.uint16), "int16": np.array([[-32768], [32767]], np.int16),
    "uint32": np.array([4294967295], np.uint32), "int32": np.array([-5, 1 << 30], np.int32),
    "uint64": np.array([1 << 63, 1], np.uint64), "int64": np.array([-(1 << 63), 42], np.int64),
    "float16": np.array([1.5, -0.0, np.inf], np.float16), "bfloat16": tsf.float32_to_bfloat16([1.0, -2.5, 3e38]),
    "float32": np.array([[0.5, -1e-38], [np.pi, -np.inf]], np.float32),
    "float64": np.array([1e308, -5e-324], np.float64), "bool": np.array([True, False, True]),
}


def valid_vectors():
    """Return {name: (bytes, number of records)}."""
    v = {}
    v["empty-stream"] = (header(b'{"kind":"samples"}') + ends(0, 0, 0), 0)
    v["label-int64"] = (data_stream(LABEL_RECORD, meta=b'{"kind":"samples"}'), 1)
    for name, arr in DTYPE_SAMPLES.items():
        scalar = arr.reshape(-1)[:1].reshape(())
        rec = {"scalar": scalar, "tensor": arr, "empty": arr.reshape(-1)[:0]}
        v["dtype-" + name] = (write_stream({"kind": "x-dtypes"}, [rec]), 1)
    v["dtype-bytes"] = (write_stream({}, [{"blob": b"\x00\xffJPEG", "empty": b"",
                                           "grid": np.frombuffer(b"abcdef", "V1").reshape(2, 3)}]), 1)
    v["dtype-utf8"] = (write_stream({}, [{"text": "grüße, 世界", "empty": ""}]), 1)
    v["rank-8"] = (write_stream({}, [{"t": np.arange(8, dtype=np.int8).reshape(1, 2, 1, 2, 1, 1, 2, 1)}]), 1)
    v["empty-dims"] = (write_stream({}, [{"a": np.zeros((3, 0, 2), np.float32), "b": np.zeros(0, np.int64),
                                          "c": np.zeros((2147483647, 0), np.uint8)}]), 1)
    v["name-255"] = (write_stream({}, [{"n" * 255: np.int64(1)}]), 1)
    v["fields-64"] = (write_stream({}, [{"f%02d" % i: np.uint8(i) for i in range(64)}]), 1)
    tokens = [{"tokens": np.arange(n, dtype=np.int32)} for n in (5, 1, 0, 12, 3)]
    v["several-chunks"] = (write_stream({"kind": "tokens"}, tokens, chunk_target=64), 5)
    images = [{"key": "img%d" % i, "image": np.full((8, 8, 1), i, np.uint8), "label": np.int64(i % 3)}
              for i in range(6)]
    v["zstd"] = (write_stream({"kind": "samples"}, images, codec=1, chunk_target=300), 6)
    recs = LABEL_RECORD + record(label(8))
    v["zstd-checksum"] = (header() + chunk(b"DATA", zstd(recs * 4, checksum=True), 0, n=8, codec=1,
                                           raw=recs * 4) + ends(1, 8, 1), 8)
    v["zstd-raw-blocks"] = (header() + chunk(b"DATA", zframe(LABEL_RECORD, fcs_flag=3, single=False,
                                                             empty_blocks=2), 0, n=1, codec=1,
                                             raw=LABEL_RECORD) + ends(1, 1, 1), 1)
    v["concatenated"] = (v["label-int64"][0] + v["several-chunks"][0], 6)
    v["concatenated-empty"] = (v["empty-stream"][0] + v["label-int64"][0] + v["empty-stream"][0], 1)
    v["ancillary-chunk"] = (header() + chunk(b"DATA", LABEL_RECORD, 0, n=1) +
                            chunk(b"note", b"skip me", 1, flags=1) +
                            chunk(b"indx", zstd(b"\0" * 64), 2, flags=1, codec=1, raw=b"\0" * 64) +
                            chunk(b"DATA", LABEL_RECORD, 3, n=1) + ends(4, 2, 2), 2)
    # A first payload of 0 bytes leaves a reader's payload buffer unallocated.
    v["ancillary-empty-first"] = (header() + chunk(b"note", b"", 0, flags=1) + ends(1, 0, 0), 0)
    schema = {"kind": "samples", "classes": ["zero", "one"], "schema": {"fields": [
        {"name": "key", "dtype": "utf8", "shape": [None], "optional": True},
        {"name": "image", "dtype": "uint8", "shape": [4, None, 1], "layout": "HWC"},
        {"name": "label", "dtype": "int64", "shape": [], "optional": True},
        {"name": "extra", "dtype": "float32", "shape": None, "optional": True}], "extra_fields": False},
        "producer": {"tool": "make_vectors", "version": "1", "args": []}}
    v["schema"] = (write_stream(schema, [
        {"key": "a", "image": np.zeros((4, 3, 1), np.uint8), "label": np.int64(1)},
        {"image": np.ones((4, 5, 1), np.uint8), "extra": np.zeros((2, 2), np.float32)}]), 2)
    v["schema-extra-fields"] = (write_stream({"schema": {"fields": [{"name": "x", "dtype": "int8", "shape": None}],
                                                         "extra_fields": True}},
                                             [{"x": np.int8(1), "y": "free"}]), 1)
    v["checkpoint"] = (write_stream({"kind": "checkpoint", "config": {"dim": 3}, "train_state": {"step": 10}},
                                    [{"name": "w", "value": np.eye(3, dtype=np.float32)},
                                     {"name": "b", "value": np.zeros(3, np.float32), "frozen": np.bool_(True)}]), 2)
    deep = b'{"a":' + b"[" * 31 + b"]" * 31 + b"}"
    v["meta-depth-32"] = (header(deep) + ends(0, 0, 0), 0)
    v["minor-version-7"] = (header(minor=7) + ends(0, 0, 0), 0)
    v["meta-unknown-keys"] = (header(b'{"kind":"tokens","x-lab":{"run":[1,2.5e3,null,true]},"zz":"ignored"}')
                              + ends(0, 0, 0), 0)
    return v


def invalid_vectors():
    """Return {name: (bytes, expected message substring)}."""
    good = data_stream(LABEL_RECORD)
    h = header()
    v = {}

    def bad(name, data, message):
        assert name not in v, name
        v[name] = (data, message)

    # Stream header.
    bad("empty", b"", "empty input: no stream header (did the upstream stage fail?)")
    bad("cut-in-signature", good[:5], "truncated in stream header")
    bad("cut-in-header", good[:20], "truncated in stream header")
    meta = b'{"kind":"samples"}'
    bad("cut-in-metadata", header(meta)[:30], "truncated in metadata")
    bad("cut-in-metadata-padding", header(meta)[:24 + len(meta) + 2], "truncated in metadata")
    bad("signature-zstd", zstd(b"hello hello hello hello"), "not a TSF stream (looks like zstd data)")
    bad("signature-gzip", gzip.compress(b"hello", mtime=0), "not a TSF stream (looks like gzip data)")
    npy = io.BytesIO()
    np.save(npy, np.zeros(2, np.uint8))
    bad("signature-npy", npy.getvalue(), "not a TSF stream (looks like a .npy file)")
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    bad("signature-png", b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr)),
        "not a TSF stream (looks like a PNG image)")
    bad("signature-idx", b"\0\0\x08\x01" + struct.pack(">I", 3) + b"\x01\x02\x03",
        "not a TSF stream (looks like an IDX file)")
    bad("signature-text", b"key,label\nimg0,3\n", "not a TSF stream (looks like text)")
    bad("signature-other", b"\x7fELF\x02\x01\x01\0" + bytes(16), "not a TSF stream")
    bad("signature-crlf-to-lf", good.replace(b"\r\n", b"\n", 1), "signature damaged by text-mode transfer")
    bad("signature-lf-to-crlf", good[:4] + good[4:8].replace(b"\n", b"\r\n") + good[8:],
        "signature damaged by text-mode transfer")
    bad("version-2", header(major=2) + ends(0, 0, 0), "stream version 2.0 not supported (this reader supports 1.x)")
    bad("version-0", header(major=0, minor=9) + ends(0, 0, 0),
        "stream version 0.9 not supported (this reader supports 1.x)")
    bad("feature-bit-2", header(features=4) + ends(0, 0, 0), "requires feature 0x4 unknown to this reader")
    bad("feature-bit-31", header(features=1 << 31) + ends(0, 0, 0),
        "requires feature 0x80000000 unknown to this reader")
    bad("metadata-length-limit", SIG + struct.pack("<HHIII", 1, 0, 0, 1 << 30, 0),
        "metadata length 1073741824 exceeds limit 1048576")
    bad("header-crc-field", header(crc=zlib.crc32(SIG + struct.pack("<HHII", 1, 0, 0, 2) + b"{}") ^ 0x10)
        + ends(0, 0, 0), "stream header CRC mismatch")
    fixed = SIG + struct.pack("<HHII", 1, 0, 0, len(meta))
    bad("header-crc-metadata", header(b'{"kind":"samplez"}', crc=zlib.crc32(fixed + meta)) + ends(0, 0, 0),
        "stream header CRC mismatch")
    for name, text, message in [
            ("metadata-utf8", b'{"kind":"\xff"}', "metadata: invalid UTF-8"),
            ("metadata-utf8-surrogate", b'{"kind":"\xed\xa0\x80"}', "metadata: invalid UTF-8"),
            ("metadata-array", b"[1,2]", "metadata: not a JSON object"),
            ("metadata-string", b'"kind"', "metadata: not a JSON object"),
            ("metadata-syntax", b'{"kind":}', "metadata: "),
            ("metadata-trailing-comma", b'{"a":1,}', "metadata: "),
            ("metadata-empty", b"", "metadata: "),
            ("metadata-nan", b'{"x":NaN}', "metadata: "),
            ("metadata-int-range", b'{"x":9223372036854775808}', "metadata: "),
            ("metadata-duplicate-key", b'{"kind":"a","kind":"b"}', "metadata: duplicate key 'kind'"),
            ("metadata-duplicate-nested", b'{"x-a":{"b":1,"b":2}}', "metadata: duplicate key 'b'"),
            ("metadata-depth-33", b'{"a":' + b"[" * 32 + b"]" * 32 + b"}", "metadata: nesting deeper than 32"),
            ("schema-unknown-dtype", b'{"schema":{"fields":[{"name":"image","dtype":"float99","shape":[2]}]}}',
             "metadata: schema: unknown dtype 'float99'"),
            ("schema-negative-dim", b'{"schema":{"fields":[{"name":"image","dtype":"uint8","shape":[28,-1]}]}}',
             "metadata: schema: invalid shape for field 'image'"),
            ("schema-shape-string", b'{"schema":{"fields":[{"name":"image","dtype":"uint8","shape":"28x28"}]}}',
             "metadata: schema: invalid shape for field 'image'"),
            ("schema-rank-9", b'{"schema":{"fields":[{"name":"image","dtype":"uint8","shape":[1,1,1,1,1,1,1,1,1]}]}}',
             "metadata: schema: invalid shape for field 'image'"),
            ("schema-not-object", b'{"schema":[]}', "metadata: schema: "),
            ("schema-fields-not-list", b'{"schema":{"fields":{}}}', "metadata: schema: ")]:
        bad(name, header(text) + ends(0, 0, 0), message)
    bad("padding-after-metadata", header(padding=b"\0\0\0\0\0\x01") + ends(0, 0, 0), "nonzero padding")

    # Chunk framing.
    bad("no-ends-after-header", h, "input ended after the stream header without an ENDS chunk")
    two = h + chunk(b"DATA", LABEL_RECORD, 0, n=1) + chunk(b"DATA", LABEL_RECORD * 2, 1, n=2)
    bad("no-ends-after-chunk-1", two, "input ended after chunk 1 (3 records) without an ENDS chunk")
    bad("cut-in-chunk-0-header", good[:len(h) + 20], "truncated in chunk 0 header")
    bad("cut-in-chunk-2-header", two + ends(2, 3, 2)[:47], "truncated in chunk 2 header")
    bad("cut-in-payload", good[:len(h) + 48 + 16], "truncated in chunk 0 payload")
    abrt = h + chunk(b"ABRT", b"stop", 0)
    bad("cut-in-payload-padding", abrt[:-2], "truncated in chunk 0 payload")
    bad("chunk-header-crc", h + chunk(b"DATA", LABEL_RECORD, 0, n=1, hcrc_xor=0x100) + ends(1, 1, 1),
        "header CRC mismatch")
    flipped = bytearray(h + chunk(b"DATA", LABEL_RECORD, 0, n=1))
    flipped[len(h) + 16] ^= 0x08  # stored_len 40 -> 32, header CRC left as computed for 40
    bad("chunk-header-crc-length", bytes(flipped) + ends(1, 1, 1), "header CRC mismatch")
    bad("chunk-reserved-6", h + chunk(b"DATA", LABEL_RECORD, 0, n=1, res1=1) + ends(1, 1, 1),
        "reserved field not zero")
    bad("chunk-reserved-40", h + chunk(b"DATA", LABEL_RECORD, 0, n=1, res2=0x100) + ends(1, 1, 1),
        "reserved field not zero")
    bad("chunk-flags-bit-1", h + chunk(b"DATA", LABEL_RECORD, 0, n=1, flags=2) + ends(1, 1, 1),
        "invalid chunk flags 0x2")
    bad("chunk-flags-ancillary-data", h + chunk(b"DATA", LABEL_RECORD, 0, n=1, flags=1) + ends(1, 1, 1),
        "invalid chunk flags 0x1")
    bad("chunk-flags-ancillary-ends", h + ends(0, 0, 0, flags=1), "invalid chunk flags 0x1")
    bad("chunk-flags-bit-7-unknown", h + chunk(b"note", b"x", 0, flags=0x81) + ends(1, 0, 0),
        "invalid chunk flags 0x81")
    bad("sequence-gap", h + chunk(b"DATA", LABEL_RECORD, 0, n=1) + ends(2, 1, 1), "sequence number 2, expected 1")
    bad("sequence-repeat", h + chunk(b"DATA", LABEL_RECORD, 0, n=1) + chunk(b"DATA", LABEL_RECORD, 0, n=1)
        + ends(2, 2, 2), "sequence number 0, expected 1")
    bad("sequence-start-1", h + chunk(b"DATA", LABEL_RECORD, 1, n=1) + ends(2, 1, 1), "sequence number 1, expected 0")
    bad("critical-chunk-type", h + chunk(b"XYZW", b"data", 0) + ends(1, 0, 0), "unknown critical chunk type 'XYZW'")
    bad("codec-7", one_chunk(LABEL_RECORD, codec=7), "unknown codec 7")
    bad("codec-0-length-mismatch", one_chunk(LABEL_RECORD, raw_len=48),
        "codec 0 but stored length 40 differs from raw length 48")
    bad("raw-length-limit", h + chunk(b"DATA", zframe(LABEL_RECORD), 0, n=1, codec=1, raw_len=1 << 31),
        "raw length 2147483648 exceeds limit 1073741824")
    bad("stored-length-limit", h + chunk(b"DATA", b"", 0, n=1, codec=1, stored_len=(1 << 30) + 8,
                                         raw_len=1 << 30, padding=b"")[:len(h) + 48],
        "stored length 1073741832 exceeds limit 1073741824")
    bad("zstd-bound", one_chunk(zframe(LABEL_RECORD, fcs_flag=3, empty_blocks=16), codec=1, raw=LABEL_RECORD),
        "stored length 104 exceeds the zstd bound 103")
    one_frame = "zstd payload is not exactly one frame of raw_len bytes"
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"skip"
    for name, stored in [
            ("skippable-frame", skippable + zframe(LABEL_RECORD)),
            ("two-frames", zframe(LABEL_RECORD) + zframe(b"")),
            ("trailing-bytes", zframe(LABEL_RECORD) + b"\0\0\0"),
            ("dictionary", zframe(LABEL_RECORD, dict_id=7)),
            ("window-2-28", zframe(LABEL_RECORD, fcs_flag=3, single=False, window_byte=18 << 3)),
            ("no-content-size", zframe(LABEL_RECORD, fcs_flag=0, single=False)),
            ("content-size-48", zframe(LABEL_RECORD + bytes(8))),
            ("reserved-block-type", zframe(LABEL_RECORD, block_type=3)),
            ("block-too-long", zframe(LABEL_RECORD, block_size=len(LABEL_RECORD) + 8)),
            ("not-zstd", LABEL_RECORD)]:
        bad("zstd-" + name, one_chunk(stored, codec=1, raw=LABEL_RECORD), one_frame)
    bad("payload-crc", one_chunk(LABEL_RECORD, pcrc=zlib.crc32(LABEL_RECORD) ^ 1), "payload CRC mismatch")
    bad("payload-crc-zstd", one_chunk(zstd(LABEL_RECORD * 3), n=3, codec=1, raw=LABEL_RECORD * 3,
                                      pcrc=zlib.crc32(LABEL_RECORD * 2)), "payload CRC mismatch")
    bad("payload-crc-ancillary", h + chunk(b"note", b"hello", 0, flags=1, pcrc=0) + ends(1, 0, 0),
        "payload CRC mismatch")
    bad("padding-after-payload", h + chunk(b"ABRT", b"stop", 0, padding=b"\0\0\0\x20"), "nonzero padding")
    bad("ends-with-records", h + ends(0, 0, 0, n=1), "n_records must be 0 for a ENDS chunk")
    bad("abrt-with-records", h + chunk(b"ABRT", b"failed", 0, n=2), "n_records must be 0 for a ABRT chunk")
    bad("data-zero-records", one_chunk(b"", n=0), "DATA chunk with 0 records")

    # Records.
    lab = label()
    bad("record-length-8", one_chunk(record(lab, rec_len=8)), "invalid record length 8")
    bad("record-length-44", one_chunk(record(lab, rec_len=44)), "invalid record length 44")
    bad("record-length-past-payload", one_chunk(record(lab, rec_len=48)), "invalid record length 48")
    bad("record-length-long", one_chunk(record(lab, rec_len=48) + bytes(8)),
        "record length 48 does not match its fields (40)")
    bad("records-leave-bytes", one_chunk(LABEL_RECORD + bytes(16)), "records do not cover the payload")
    bad("records-fewer-than-count", one_chunk(LABEL_RECORD, n=2), "records do not cover the payload")
    bad("record-reserved", one_chunk(record(lab, reserved=1)), "reserved field not zero")
    bad("field-count-0", one_chunk(record(n_fields=0)), "field count 0 out of range 1..64")
    bad("field-count-65", one_chunk(record(*[field(1, [], "f%02d" % i, b"\1") for i in range(65)])),
        "field count 65 out of range 1..64")
    for code in (0, 16, 99):
        bad("dtype-%d" % code, one_chunk(record(field(code, [], "x", bytes(8)))), "unknown dtype %d" % code)
    bad("rank-9", one_chunk(record(field(1, [1] * 9, "x", b"\1"))), "rank 9 exceeds 8")
    bad("utf8-rank-0", one_chunk(record(field(15, [], "x", b"a"))), "utf8 field must have rank 1")
    bad("utf8-rank-2", one_chunk(record(field(15, [1, 2], "x", b"ab"))), "utf8 field must have rank 1")
    bad("field-reserved", one_chunk(record(field(8, [], "label", bytes(8), reserved=1 << 24))),
        "reserved field not zero")
    bad("dim-2-31", one_chunk(record(field(1, [1 << 31, 0], "x", b""))), "dim 2147483648 exceeds 2^31-1")
    bad("dim-2-32", one_chunk(record(field(1, [0, 1 << 32], "x", b""))), "dim 4294967296 exceeds 2^31-1")
    bad("size-overflow", one_chunk(record(field(11, [(1 << 31) - 1] * 3, "x", bytes(8)))), "size overflows")
    bad("field-data-exceeds-record", one_chunk(record(field(1, [100], "x", bytes(8)))), "field data exceeds record")
    bad("field-data-exceeds-record-2", one_chunk(record(lab, field(8, [], "other", bytes(8))[:16])), "field data exceeds record")
    bad("name-empty", one_chunk(record(field(8, [], "", bytes(8)))), "invalid field name")
    bad("name-256", one_chunk(record(field(8, [], "n" * 256, bytes(8)))), "invalid field name")
    bad("name-newline", one_chunk(record(field(8, [], "a\nb", bytes(8)))), "invalid field name")
    bad("name-c1-control", one_chunk(record(field(8, [], "a\u0085", bytes(8)))), "invalid field name")
    bad("name-utf8", one_chunk(record(field(8, [], b"lab\xc0\xafel", bytes(8)))), "invalid field name")
    bad("name-duplicate", one_chunk(record(lab, lab)), "duplicate field name 'label'")
    bad("padding-after-name", one_chunk(record(field(8, [], "label", bytes(8), name_pad=b"\0\0\x01"))),
        "nonzero padding")
    bad("padding-after-data", one_chunk(record(field(1, [2], "x", b"\1\2", data_pad=b"\0\0\0\0\0\x01"))),
        "nonzero padding")
    bad("bool-2", one_chunk(record(field(13, [3], "flags", b"\1\0\2"))), "bool value 2 is not 0 or 1")
    bad("utf8-invalid", one_chunk(record(field(15, [3], "key", b"a\xffb"))), "utf8 field is not valid UTF-8")

    # Schema.
    sch = b'{"schema":{"fields":[{"name":"image","dtype":"uint8","shape":[4,4,1]},' \
          b'{"name":"label","dtype":"int64","shape":[]}]}}'
    image = field(1, [4, 4, 1], "image", bytes(16))
    bad("schema-wrong-dtype", data_stream(record(field(11, [4, 4, 1], "image", bytes(64)), lab), meta=sch),
        "field 'image' is float32, schema says uint8")
    bad("schema-missing-field", data_stream(record(image), meta=sch), "missing required field 'label'")
    bad("schema-undeclared-field", data_stream(record(image, lab, field(1, [], "x", b"\0")), meta=sch),
        "undeclared field 'x'")
    bad("schema-wrong-rank", data_stream(record(field(1, [4, 4], "image", bytes(16)), lab), meta=sch),
        "field 'image' has rank 2, schema says 3")
    bad("schema-wrong-dim", data_stream(record(field(1, [4, 3, 1], "image", bytes(12)), lab), meta=sch),
        "field 'image' dim 1 is 3, schema says 4")

    # End of stream.
    rec1 = h + chunk(b"DATA", LABEL_RECORD, 0, n=1)
    bad("ends-payload-8", rec1 + chunk(b"ENDS", struct.pack("<Q", 1), 1), "ENDS payload is 8 bytes, expected 16")
    ends_data = struct.pack("<QQ", 1, 1)
    bad("ends-compressed", rec1 + chunk(b"ENDS", zframe(ends_data), 1, codec=1, raw=ends_data),
        "ENDS chunk must be uncompressed")
    bad("ends-record-count", rec1 + ends(1, 2, 1), "ENDS says 2 records, read 1")
    bad("ends-chunk-count", rec1 + ends(1, 1, 2), "ENDS says 2 DATA chunks, read 1")
    bad("abrt", h + chunk(b"ABRT", b"augment: cannot decode image 17", 0),
        "upstream aborted: augment: cannot decode image 17")
    bad("abrt-empty", h + chunk(b"ABRT", b"", 0), "upstream aborted without a message")
    bad("abrt-after-records", rec1 + chunk(b"ABRT", b"pretrain: out of memory", 1),
        "upstream aborted: pretrain: out of memory")
    bad("abrt-too-long", h + chunk(b"ABRT", b"x" * 65537, 0), "ABRT message exceeds 65536 bytes")
    bad("abrt-compressed", h + chunk(b"ABRT", zframe(b"failed"), 0, codec=1, raw=b"failed"),
        "ABRT chunk must be uncompressed")
    bad("abrt-utf8", h + chunk(b"ABRT", b"bad \xff byte", 0), "ABRT message is not valid UTF-8")
    bad("trailing-bytes", good + b"garbage!", "trailing bytes after ENDS")
    bad("trailing-zeros", good + bytes(8), "trailing bytes after ENDS")
    bad("second-stream-cut", good + good[:10], "truncated in stream header")
    bad("second-stream-no-ends", good + h, "input ended after the stream header without an ENDS chunk")
    bad("second-stream-crc", good + header(crc=1) + ends(0, 0, 0), "stream header CRC mismatch")
    return v


def example():
    """Print the annotated hex dump of the specification's example stream."""
    meta = b'{"kind":"samples"}'
    rec = LABEL_RECORD
    parts = [(SIG, "signature"), (b"\1\0", "major 1"), (b"\0\0", "minor 0"), (bytes(4), "required_features 0"),
             (struct.pack("<I", len(meta)), "meta_len %d" % len(meta)),
             (header(meta)[20:24], "header_crc: CRC-32 of bytes 0-19 and the metadata"),
             (meta, "metadata: " + meta.decode()), (bytes(6), "pad8 to byte 48")]
    data = chunk(b"DATA", rec, 0, n=1)
    parts += [(b"DATA", "chunk tag DATA"), (b"\0", "codec 0"), (b"\0", "flags 0"), (b"\0\0", "reserved"),
              (data[8:16], "seq 0"), (data[16:24], "stored_len 40"), (data[24:32], "raw_len 40"),
              (data[32:36], "n_records 1"), (data[36:40], "payload_crc"), (bytes(4), "reserved"),
              (data[44:48], "header_crc: CRC-32 of chunk bytes 0-43"),
              (rec[0:8], "record: rec_len 40"), (rec[8:12], "n_fields 1"), (rec[12:16], "reserved"),
              (rec[16:17], "field: dtype 8 (int64)"), (rec[17:18], "ndim 0 (scalar, no dims follow)"),
              (rec[18:20], "name_len 5"), (rec[20:24], "reserved"), (b"label", "name"), (bytes(3), "pad8"),
              (rec[32:40], "data: 7")]
    end = ends(1, 1, 1)
    parts += [(b"ENDS", "chunk tag ENDS"), (end[4:8], "codec 0, flags 0, reserved"), (end[8:16], "seq 1"),
              (end[16:24], "stored_len 16"), (end[24:32], "raw_len 16"), (end[32:36], "n_records 0"),
              (end[36:40], "payload_crc"), (end[40:44], "reserved"), (end[44:48], "header_crc"),
              (end[48:56], "ENDS: 1 record in the stream"), (end[56:64], "ENDS: 1 DATA chunk")]
    whole = b"".join(p for p, _ in parts)
    assert whole == header(meta) + data + end == data_stream(rec, meta=meta)
    offset = 0
    for part, text in parts:
        for i in range(0, len(part), 8):
            piece = part[i:i + 8]
            shown = " ".join("%02x" % b for b in piece)
            print("%04x  %-23s  %s" % (offset, shown, text if i == 0 else "  (continued)"))
            offset += len(piece)
    print("%04x  (end: %d bytes)" % (offset, offset))


def main():
    if sys.argv[1:] == ["--example"]:
        example()
        return
    lines = []
    for kind, vectors in (("valid", valid_vectors()), ("invalid", invalid_vectors())):
        os.makedirs(os.path.join(HERE, kind), exist_ok=True)
        for old in os.listdir(os.path.join(HERE, kind)):
            if old.endswith(".tsf"):
                os.remove(os.path.join(HERE, kind, old))
        for name, (data, expect) in sorted(vectors.items()):
            with open(os.path.join(HERE, kind, name + ".tsf"), "wb") as f:
                f.write(data)
            lines.append("%s/%s.tsf\t%s\t%s" % (kind, name, "ok" if kind == "valid" else "error", expect))
    with open(os.path.join(HERE, "expected.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d vectors" % len(lines))


if __name__ == "__main__":
    main()
