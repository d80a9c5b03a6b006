#!/usr/bin/python3
"""Read, write and validate TSF v1, the tensor stream format of selfsup.

formats/tensor-stream.md is the specification. The reader enforces every rule
listed there and raises TSFError with a one-line diagnostic. It reads strictly
sequentially, so it works on pipes. Needs numpy; `zstandard` only for codec 1.
Left out: raising the reader limits from the command line, memory-mapping,
and streams wrapped whole in zstd.

    for meta, record in tsf.read(open("x.tsf", "rb")): ...
    w = tsf.Writer(f, {"kind": "samples"}); w.write({"label": 3}); w.end()
"""
import json
import re
import struct
import sys
import time
import zlib

import numpy as np

SIGNATURE = b"\x89TSF\r\n\x1a\n"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_META, MAX_CHUNK, MAX_DEPTH = 1 << 20, 1 << 30, 32
MAX_FIELDS, MAX_NDIM, MAX_DIM, MAX_ABRT = 64, 8, (1 << 31) - 1, 65536
# numpy has no bfloat16: fields of that dtype are read as this one-member
# structured dtype, and arrays of it are written back as bfloat16.
BFLOAT16 = np.dtype([("bfloat16", "<u2")])
# Dtype code -> (name, numpy dtype). The table is append-only.
DTYPES = {1: ("uint8", "u1"), 2: ("int8", "i1"), 3: ("uint16", "<u2"), 4: ("int16", "<i2"),
          5: ("uint32", "<u4"), 6: ("int32", "<i4"), 7: ("uint64", "<u8"), 8: ("int64", "<i8"),
          9: ("float16", "<f2"), 10: ("bfloat16", BFLOAT16), 11: ("float32", "<f4"),
          12: ("float64", "<f8"), 13: ("bool", "?"), 14: ("bytes", "V1"), 15: ("utf8", "u1")}
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
CODE_BY_NAME = {name: code for code, (name, _) in DTYPES.items()}
CODE_BY_NUMPY = {np.dtype(t): code for code, (_, t) in DTYPES.items() if code != 15}
FOREIGN = [(ZSTD_MAGIC, "zstd data"), (b"\x1f\x8b", "gzip data"), (b"\x93NUMPY", "a .npy file"),
           (b"\x89PNG\r\n\x1a\n", "a PNG image")]


class TSFError(Exception):
    """Invalid input; str() is the diagnostic `byte N: chunk S: record R: message`."""


def bfloat16_to_float32(a):
    """Widen a BFLOAT16 array to float32 (exact)."""
    return (a["bfloat16"].astype(np.uint32) << 16).view(np.float32)


def float32_to_bfloat16(a):
    """Round a float32 array to BFLOAT16, to nearest even; NaN stays NaN."""
    a = np.asarray(a, np.float32)
    u = np.atleast_1d(a).view(np.uint32).astype(np.uint64)
    one, sixteen = np.uint64(1), np.uint64(16)
    r = ((u + np.uint64(0x7FFF) + ((u >> sixteen) & one)) >> sixteen).astype(np.uint16).reshape(a.shape)
    r = np.where(np.isnan(a), np.uint16(0x7FC0), r)
    return r.astype("<u2").view(BFLOAT16)


def align8(n):
    return (n + 7) & ~7


def zstd_bound(n):
    """ZSTD_compressBound(n) of libzstd 1.5."""
    return n + (n >> 8) + ((131072 - n) >> 11 if n < 131072 else 0)


def valid_name(raw):
    """Field names: 1..255 bytes of UTF-8 without control characters (U+0000-1F, U+007F-9F)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return 1 <= len(raw) <= 255 and not CONTROL.search(text)


def json_depth(text):
    """Maximum nesting of arrays and objects; the top-level object counts as 1."""
    depth = top = 0
    for ch in re.findall(r'[\[\]{}]', re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)):
        depth += 1 if ch in "[{" else -1
        top = max(top, depth)
    return top


def _unique_object(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError("duplicate key '%s'" % key)
        seen[key] = value
    return seen


def _int64(text):
    if not -(1 << 63) <= int(text) < 1 << 63:
        raise ValueError("integer %s outside the int64 range" % text)
    return int(text)


def _finite(text):
    if not np.isfinite(float(text)):
        raise ValueError("number %s is out of range" % text)
    return float(text)


def _constant(text):
    raise ValueError("%s is not valid JSON" % text)


def parse_schema(schema):
    """Return ({name: (code, shape or None, optional)}, extra_fields); raise ValueError."""
    if not isinstance(schema, dict):
        raise ValueError("not a JSON object")
    if not isinstance(schema.get("fields"), list):
        raise ValueError("'fields' is not a list")
    extra = schema.get("extra_fields", False)
    if not isinstance(extra, bool):
        raise ValueError("'extra_fields' is not true or false")
    decl = {}
    for entry in schema["fields"]:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not valid_name(name.encode("utf-8", "replace")):
            raise ValueError("field entry without a valid name")
        if name in decl:
            raise ValueError("duplicate field '%s'" % name)
        dtype, shape = entry.get("dtype"), entry.get("shape")
        if not isinstance(dtype, str) or dtype not in CODE_BY_NAME:
            raise ValueError("unknown dtype %s" % ("'%s'" % dtype if isinstance(dtype, str) else json.dumps(dtype)))
        ok_dim = lambda d: d is None or (type(d) is int and 0 <= d <= MAX_DIM)
        if shape is not None and not (isinstance(shape, list) and len(shape) <= MAX_NDIM
                                      and all(map(ok_dim, shape)) and (dtype != "utf8" or len(shape) == 1)):
            raise ValueError("invalid shape for field '%s'" % name)
        if not isinstance(entry.get("optional", False), bool):
            raise ValueError("'optional' of field '%s' is not true or false" % name)
        decl[name] = (CODE_BY_NAME[dtype], shape, entry.get("optional", False))
    return decl, extra


class Reader:
    """Validating reader of an input holding one or more streams back to back."""

    def __init__(self, f, max_meta=MAX_META, max_chunk=MAX_CHUNK):
        self.f, self.max_meta, self.max_chunk, self.pos = f, max_meta, max_chunk, 0

    def fail(self, msg, at=None, chunk=None, record=None, field=None):
        where = ["byte %d" % (self.pos if at is None else at)]
        where += [] if chunk is None else ["chunk %d" % chunk]
        where += [] if record is None else ["record %d" % record]
        where += [] if field is None else ["field '%s'" % field]
        raise TSFError(": ".join(where + [msg]))

    def read(self, n):
        """Read n bytes or fewer at end of input, in pieces so a false length allocates little."""
        parts, got = [], 0
        while got < n:
            part = self.f.read(min(n - got, 1 << 24))
            if not part:
                break
            parts.append(part)
            got += len(part)
        self.pos += got
        return b"".join(parts)

    def streams(self):
        """Yield (metadata, records) per stream; records must be consumed before the next step."""
        first = True
        while True:
            at = self.pos
            head = self.read(24)
            if not head and first:
                self.fail("empty input: no stream header (did the upstream stage fail?)", at)
            if not head:
                return
            meta, schema = self.read_header(head, at, first)
            records = self.records(schema)
            yield meta, records
            for _ in records:
                pass
            first = False

    def read_header(self, head, at, first):
        n = min(len(head), 8)
        if head[:n] != SIGNATURE[:n]:
            if head[:4] == SIGNATURE[:4] and head[4:].replace(b"\r", b"")[:3] == b"\n\x1a\n":
                self.fail("signature damaged by text-mode transfer", at)
            if not first:
                self.fail("trailing bytes after ENDS", at)
            kind = [what for magic, what in FOREIGN if head.startswith(magic)]
            if head[:2] == b"\0\0" and len(head) >= 4 and head[2] in (8, 9, 11, 12, 13, 14) and head[3]:
                kind.append("an IDX file")
            if not kind and all(b in (9, 10, 13) or 32 <= b < 127 for b in head):
                kind.append("text")
            self.fail("not a TSF stream" + (" (looks like %s)" % kind[0] if kind else ""), at)
        if len(head) < 24:
            self.fail("truncated in stream header")
        major, minor, features, meta_len, crc = struct.unpack_from("<HHIII", head, 8)
        if major != 1:
            self.fail("stream version %d.%d not supported (this reader supports 1.x)" % (major, minor), at)
        if features:
            self.fail("requires feature 0x%x unknown to this reader" % (features & -features), at)
        if meta_len > self.max_meta:
            self.fail("metadata length %d exceeds limit %d" % (meta_len, self.max_meta), at)
        text, pad = self.read(meta_len), self.read(align8(24 + meta_len) - 24 - meta_len)
        if len(text) + len(pad) < align8(24 + meta_len) - 24:
            self.fail("truncated in metadata")
        if zlib.crc32(head[:20] + text) != crc:
            self.fail("stream header CRC mismatch", at)
        if any(pad):
            self.fail("nonzero padding", at + 24 + meta_len)
        try:
            if json_depth(text.decode("utf-8")) > MAX_DEPTH:
                raise ValueError("nesting deeper than %d" % MAX_DEPTH)
            meta = json.loads(text.decode("utf-8"), object_pairs_hook=_unique_object,
                              parse_int=_int64, parse_float=_finite, parse_constant=_constant)
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except UnicodeDecodeError:
            self.fail("metadata: invalid UTF-8", at + 24)
        except ValueError as e:
            self.fail("metadata: %s" % e, at + 24)
        try:
            schema = parse_schema(meta["schema"]) if "schema" in meta else None
        except ValueError as e:
            self.fail("metadata: schema: %s" % e, at + 24)
        return meta, schema

    def records(self, schema):
        """Yield the records of one stream, each chunk only once all of it is valid."""
        seq = n_records = n_data = 0
        while True:
            at = self.pos
            head = self.read(48)
            if not head:
                self.fail("input ended after the stream header without an ENDS chunk" if seq == 0 else
                          "input ended after chunk %d (%d records) without an ENDS chunk" % (seq - 1, n_records))
            if len(head) < 48:
                self.fail("truncated in chunk %d header" % seq)
            tag, codec, flags, res1, cseq, stored, raw, nrec, pcrc, res2, hcrc = \
                struct.unpack("<4sBBHQQQIIII", head)
            name = tag.decode("latin-1").encode("unicode_escape").decode()
            ctx = dict(at=at, chunk=seq)
            known = tag in (b"DATA", b"ENDS", b"ABRT")
            checks = [
                (zlib.crc32(head[:44]) != hcrc, "header CRC mismatch"),
                (res1 or res2, "reserved field not zero"),
                (flags & 0xFE or (known and flags), "invalid chunk flags 0x%x" % flags),
                (cseq != seq, "sequence number %d, expected %d" % (cseq, seq)),
                (codec > 1, "unknown codec %d" % codec),
                (not known and not flags & 1, "unknown critical chunk type '%s'" % name),
                (tag != b"DATA" and nrec, "n_records must be 0 for a %s chunk" % name),
                (tag == b"DATA" and not nrec, "DATA chunk with 0 records"),
                (tag in (b"ENDS", b"ABRT") and codec, "%s chunk must be uncompressed" % name),
                (stored > self.max_chunk, "stored length %d exceeds limit %d" % (stored, self.max_chunk)),
                (raw > self.max_chunk, "raw length %d exceeds limit %d" % (raw, self.max_chunk)),
                (codec == 0 and stored != raw, "codec 0 but stored length %d differs from raw length %d" % (stored, raw)),
                (codec == 1 and stored > zstd_bound(raw), "stored length %d exceeds the zstd bound %d" % (stored, zstd_bound(raw))),
                (tag == b"ENDS" and raw != 16, "ENDS payload is %d bytes, expected 16" % raw),
                (tag == b"ABRT" and raw > MAX_ABRT, "ABRT message exceeds %d bytes" % MAX_ABRT)]
            for bad, msg in checks:
                if bad:
                    self.fail(msg, **ctx)
            body, pad = self.read(stored), self.read(align8(stored) - stored)
            if len(body) + len(pad) < align8(stored):
                self.fail("truncated in chunk %d payload" % seq)
            if any(pad):
                self.fail("nonzero padding", at + 48 + stored, seq)
            data = body if codec == 0 else self.unzstd(body, raw, ctx)
            if zlib.crc32(data) != pcrc:
                self.fail("payload CRC mismatch", **ctx)
            seq += 1
            if tag == b"DATA":
                yield from self.parse_records(data, nrec, schema, ctx, at + 48 if codec == 0 else None, n_records)
                n_records += nrec
                n_data += 1
            elif tag == b"ENDS":
                want_records, want_chunks = struct.unpack("<QQ", data)
                if want_records != n_records:
                    self.fail("ENDS says %d records, read %d" % (want_records, n_records), **ctx)
                if want_chunks != n_data:
                    self.fail("ENDS says %d DATA chunks, read %d" % (want_chunks, n_data), **ctx)
                return
            elif tag == b"ABRT":
                try:
                    message = data.decode("utf-8")
                except UnicodeDecodeError:
                    self.fail("ABRT message is not valid UTF-8", **ctx)
                if not message:
                    self.fail("upstream aborted without a message", **ctx)
                self.fail("upstream aborted: " + CONTROL.sub(lambda m: repr(m.group())[1:-1], message), **ctx)

    def unzstd(self, body, raw, ctx):
        import zstandard

        def bad(detail):
            self.fail("zstd payload is not exactly one frame of raw_len bytes (%s)" % detail, **ctx)
        if body[:4] != ZSTD_MAGIC:
            bad("no zstd frame magic at the start")
        try:
            params = zstandard.get_frame_parameters(body)
        except zstandard.ZstdError as e:
            bad(str(e))
        if params.content_size != raw:
            bad("frame content size %s" % ("missing" if params.content_size == zstandard.CONTENTSIZE_UNKNOWN
                                           else params.content_size))
        if params.dict_id:
            bad("frame needs dictionary %d" % params.dict_id)
        if params.window_size > 1 << 27:
            bad("window of %d bytes exceeds 2^27" % params.window_size)
        decoder = zstandard.ZstdDecompressor(max_window_size=1 << 27).decompressobj()
        try:
            out = decoder.decompress(body)
        except zstandard.ZstdError as e:
            bad(str(e))
        if not decoder.eof or len(out) != raw:
            bad("frame incomplete")
        if decoder.unused_data:
            bad("%d bytes after the frame" % len(decoder.unused_data))
        return out

    def parse_records(self, buf, nrec, schema, ctx, base, first):
        """Return the decoded records of a DATA payload, checking exact cover."""
        out, pos = [], 0
        for r in range(nrec):
            where = dict(ctx, record=first + r, at=ctx["at"] if base is None else base + pos)
            if len(buf) - pos < 16:
                self.fail("records do not cover the payload", **where)
            rec_len, n_fields, reserved = struct.unpack_from("<QII", buf, pos)
            if rec_len < 16 or rec_len % 8 or rec_len > len(buf) - pos:
                self.fail("invalid record length %d" % rec_len, **where)
            if reserved:
                self.fail("reserved field not zero", **where)
            if not 1 <= n_fields <= MAX_FIELDS:
                self.fail("field count %d out of range 1..%d" % (n_fields, MAX_FIELDS), **where)
            record, shapes, p, end = {}, [], pos + 16, pos + rec_len
            for _ in range(n_fields):
                p = self.parse_field(buf, p, end, record, shapes, where)
            if p != end:
                self.fail("record length %d does not match its fields (%d)" % (rec_len, p - pos), **where)
            if schema:
                self.check_schema(schema, shapes, where)
            out.append(record)
            pos = end
        if pos != len(buf):
            self.fail("records do not cover the payload", **ctx)
        return out

    def parse_field(self, buf, p, end, record, shapes, where):
        """Decode the field at p into record; return the offset after it."""
        if end - p < 8:
            self.fail("field data exceeds record", **where)
        code, ndim, name_len, reserved = struct.unpack_from("<BBHI", buf, p)
        for bad, msg in [(code not in DTYPES, "unknown dtype %d" % code),
                         (ndim > MAX_NDIM, "rank %d exceeds %d" % (ndim, MAX_NDIM)),
                         (reserved, "reserved field not zero"),
                         (code == 15 and ndim != 1, "utf8 field must have rank 1"),
                         (not 1 <= name_len <= 255, "invalid field name"),
                         (p + 8 + 8 * ndim + name_len > end, "field data exceeds record")]:
            if bad:
                self.fail(msg, **where)
        dims = struct.unpack_from("<%dQ" % ndim, buf, p + 8)
        for d in dims:
            if d > MAX_DIM:
                self.fail("dim %d exceeds 2^31-1" % d, **where)
        q = p + 8 + 8 * ndim
        raw_name = bytes(buf[q:q + name_len])
        if not valid_name(raw_name):
            self.fail("invalid field name", **where)
        name = raw_name.decode("utf-8")
        if name in record:
            self.fail("duplicate field name '%s'" % name, **where)
        where = dict(where, field=name)
        start = align8(q + name_len)
        count = int(np.prod(dims, dtype=object)) if dims else 1
        nbytes = count * (2 if code in (3, 4, 9, 10) else 4 if code in (5, 6, 11) else 8 if code in (7, 8, 12) else 1)
        if nbytes >= 1 << 64:
            self.fail("size overflows", **where)
        if start > end or align8(start + nbytes) > end:
            self.fail("field data exceeds record", **where)
        if any(buf[q + name_len:start]) or any(buf[start + nbytes:align8(start + nbytes)]):
            self.fail("nonzero padding", **where)
        data = buf[start:start + nbytes]
        if code == 15:
            try:
                value = bytes(data).decode("utf-8")
            except UnicodeDecodeError:
                self.fail("utf8 field is not valid UTF-8", **where)
        elif code == 14 and ndim == 1:
            value = bytes(data)
        else:
            value = np.frombuffer(data, DTYPES[code][1], count).reshape(dims)
            if code == 13 and np.any(value.view("u1") > 1):
                self.fail("bool value %d is not 0 or 1" % value.view("u1")[value.view("u1") > 1][0], **where)
        record[name] = value
        shapes.append((name, code, dims))
        return align8(start + nbytes)

    def check_schema(self, schema, shapes, where):
        decl, extra = schema
        for name, code, dims in shapes:
            if name not in decl:
                if not extra:
                    self.fail("undeclared field '%s'" % name, **where)
                continue
            want, shape, _ = decl[name]
            if code != want:
                self.fail("field '%s' is %s, schema says %s" % (name, DTYPES[code][0], DTYPES[want][0]), **where)
            if shape is not None and len(shape) != len(dims):
                self.fail("field '%s' has rank %d, schema says %d" % (name, len(dims), len(shape)), **where)
            for i, (d, w) in enumerate(zip(dims, shape or [])):
                if w is not None and d != w:
                    self.fail("field '%s' dim %d is %d, schema says %d" % (name, i, d, w), **where)
        present = {name for name, _, _ in shapes}
        for name, (_, _, optional) in decl.items():
            if not optional and name not in present:
                self.fail("missing required field '%s'" % name, **where)


def read(f, **limits):
    """Yield (metadata, record) for every record of every stream; f is a binary file or a path."""
    if isinstance(f, str):
        with open(f, "rb") as file:
            yield from read(file, **limits)
        return
    for meta, records in Reader(f, **limits).streams():
        for record in records:
            yield meta, record


def encode_field(name, value):
    """Return the bytes of one field: str -> utf8, bytes -> bytes, anything else via numpy."""
    if isinstance(value, str):
        code, data = 15, value.encode("utf-8")
        dims = (len(data),)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        code, data = 14, bytes(value)
        dims = (len(data),)
    else:
        a = np.asarray(value)
        a = a.astype(a.dtype.newbyteorder("<")) if a.dtype.byteorder == ">" else a
        code = CODE_BY_NUMPY.get(a.dtype)
        if code is None:
            raise ValueError("field '%s': numpy dtype %s has no TSF dtype" % (name, a.dtype))
        dims, data = a.shape, np.ascontiguousarray(a).tobytes()
    raw_name = name.encode("utf-8")
    if not valid_name(raw_name) or len(dims) > MAX_NDIM or any(d > MAX_DIM for d in dims):
        raise ValueError("field '%s': invalid name, rank or dimension" % name)
    head = struct.pack("<BBHI%dQ" % len(dims), code, len(dims), len(raw_name), 0, *dims) + raw_name
    return head + bytes(align8(len(head)) - len(head)) + data + bytes(align8(len(data)) - len(data))


class Writer:
    """Write one stream: the header at once, records in chunks, then ENDS (end) or ABRT (abort).

    Chunks are flushed at chunk_target raw bytes, or on the next write once the oldest pending
    record is flush_after seconds old; there is no timer thread, so call flush() when idle."""

    def __init__(self, f, meta, codec=0, level=3, chunk_target=1 << 20, flush_after=0.1):
        if not isinstance(meta, dict) or codec not in (0, 1) or level > 19:
            raise ValueError("metadata must be a dict, codec 0 or 1, zstd level at most 19")
        text = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
        head = SIGNATURE + struct.pack("<HHII", 1, 0, 0, len(text))
        f.write(head + struct.pack("<I", zlib.crc32(head + text)) + text + bytes(align8(len(text)) - len(text)))
        self.f, self.codec, self.level, self.target, self.flush_after = f, codec, level, chunk_target, flush_after
        self.pending, self.size, self.oldest, self.seq, self.records, self.chunks = [], 0, 0.0, 0, 0, 0
        self.done = False

    def write(self, record):
        fields = [encode_field(name, value) for name, value in record.items()]
        if not 1 <= len(fields) <= MAX_FIELDS or self.done:
            raise ValueError("a record has 1..64 fields and the stream must still be open")
        data = struct.pack("<QII", 16 + sum(map(len, fields)), len(fields), 0) + b"".join(fields)
        if self.pending and self.size + len(data) > self.target:
            self.flush()
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending.append(data)
        self.size += len(data)
        if self.size >= self.target or time.monotonic() - self.oldest >= self.flush_after:
            self.flush()

    def flush(self):
        if self.pending:
            self._chunk(b"DATA", b"".join(self.pending), len(self.pending), self.codec)
            self.records += len(self.pending)
            self.chunks += 1
            self.pending, self.size = [], 0

    def end(self):
        self.flush()
        self._chunk(b"ENDS", struct.pack("<QQ", self.records, self.chunks))
        self.done = True

    def abort(self, message):
        """Drop pending records and end the stream as failed, with message (cut to 64 KiB)."""
        self.pending = []
        self._chunk(b"ABRT", message.encode("utf-8")[:MAX_ABRT].decode("utf-8", "ignore").encode("utf-8"))
        self.done = True

    def _chunk(self, tag, payload, n_records=0, codec=0):
        stored = payload
        if codec == 1:
            import zstandard
            stored = zstandard.ZstdCompressor(level=self.level, write_checksum=False,
                                              write_content_size=True).compress(payload)
            if len(stored) >= len(payload):
                stored, codec = payload, 0
        head = struct.pack("<4sBBHQQQIII", tag, codec, 0, 0, self.seq, len(stored), len(payload),
                           n_records, zlib.crc32(payload), 0)
        self.f.write(head + struct.pack("<I", zlib.crc32(head)) + stored + bytes(align8(len(stored)) - len(stored)))
        self.seq += 1
        if hasattr(self.f, "flush"):
            self.f.flush()


def describe(value):
    if isinstance(value, (str, bytes)):
        return "%s %r" % ("utf8" if isinstance(value, str) else "bytes", value[:40])
    name = "bfloat16" if value.dtype == BFLOAT16 else "bytes" if value.dtype.kind == "V" else str(value.dtype)
    shown = bfloat16_to_float32(value) if value.dtype == BFLOAT16 else value
    body = "" if value.size > 8 or value.dtype.kind == "V" else " " + np.array2string(shown, separator=",")
    return "%s%s%s" % (name, list(value.shape), body)


def main(argv):
    usage = "usage: tsf.py validate FILE... | copy IN OUT [--zstd] | dump FILE"
    if len(argv) < 3 or argv[1] not in ("validate", "copy", "dump"):
        print(usage, file=sys.stderr)
        return 2
    opener = lambda p, m: (sys.stdin.buffer if "r" in m else sys.stdout.buffer) if p == "-" else open(p, m)
    status = 0
    for path in argv[2:] if argv[1] == "validate" else argv[2:3]:
        try:
            f = opener(path, "rb")
            n_streams = n_records = 0
            if argv[1] == "copy":
                out = opener(argv[3], "wb")
                if out.isatty():
                    raise OSError("refusing to write binary data to a terminal")
            for meta, records in Reader(f).streams():
                if argv[1] == "copy":
                    w = Writer(out, meta, codec=1 if "--zstd" in argv else 0)
                if argv[1] == "dump":
                    print("stream %d: %s" % (n_streams, json.dumps(meta, sort_keys=True)))
                for record in records:
                    if argv[1] == "copy":
                        w.write(record)
                    if argv[1] == "dump":
                        print("  record %d: %s" % (n_records, ", ".join(
                            "%s=%s" % (k, describe(v)) for k, v in record.items())))
                    n_records += 1
                if argv[1] == "copy":
                    w.end()
                n_streams += 1
            if argv[1] == "validate":
                print("%s: %d streams, %d records" % (path, n_streams, n_records))
        except (TSFError, OSError) as e:
            print("%s: %s" % (path, e), file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
