#!/usr/bin/env python3
"""Reference writer for Distillery teacher cache parts (format distillery-teacher-cache-part/1).

Build the shards of an offline teacher cache anywhere -- logits captured by a vLLM or llama.cpp job
on a GPU node, a PyTorch model, anything -- and merge the parts with

    distillery merge --cache part-a/ part-b/ ... --out cache/

Standard library only (struct, hashlib, zlib, json). The format is documented in docs/white-box.md:

  * a part folder holds part.json and shard files;
  * shard s covers rows [s*R, min((s+1)*R, rows)) of the whole transfer set (R = rows_per_shard),
    row i = example id i;
  * one row, little-endian:
      dense: vocab x float32 raw logits
      topk : k x int32 token ids, k x float32 log-probabilities (full vocabulary, T = 1, any order),
             1 x float32 tail mass = 1 - sum(exp(logprobs)), clamped to [0, 1]
  * part.json lists each shard with firstRow, rows, bytes, sha256 (hex) and crc32 (zlib.crc32).

Use it as a library:

    from write_cache_shard import write_part
    write_part("part-a", kind="topk", rows=N, vocab=V, k=K, teacher="llama-3-8b",
               rows_per_shard=4096, shards={0: rows_of_shard_0, 1: rows_of_shard_1})

where a topk row is (ids, logprobs) or (ids, logprobs, tail_mass) and a dense row is a sequence of
vocab logits (lists, tuples or anything with .tolist(), e.g. numpy arrays).

Or from the command line with synthetic rows (what Distillery's tests do):

    python3 write_cache_shard.py --out part-b --kind topk --rows 10 --vocab 50 --k 4 \
        --teacher synthetic --rows-per-shard 3 --shards 2,3 --synthetic
"""
import argparse
import hashlib
import json
import math
import os
import struct
import zlib
from datetime import datetime, timezone

PART_FORMAT = "distillery-teacher-cache-part/1"


def shard_file_name(shard):
    return "shard-%05d.bin" % shard


def _as_list(values):
    return values.tolist() if hasattr(values, "tolist") else list(values)


def encode_row(kind, row, vocab, k):
    """Bytes of one row in the cache layout."""
    if kind == "dense":
        logits = _as_list(row)
        if len(logits) != vocab:
            raise ValueError("dense row has %d logits, expected vocab = %d" % (len(logits), vocab))
        return struct.pack("<%df" % vocab, *logits)
    ids, logprobs = _as_list(row[0]), _as_list(row[1])
    if len(ids) != k or len(logprobs) != k:
        raise ValueError("topk row has %d ids and %d logprobs, expected k = %d" % (len(ids), len(logprobs), k))
    for t in ids:
        if not (0 <= int(t) < vocab):
            raise ValueError("token id %r is outside [0, %d)" % (t, vocab))
    if len(row) > 2:
        tail = float(row[2])
    else:
        tail = 1.0 - sum(math.exp(lp) for lp in logprobs)
    tail = min(1.0, max(0.0, tail))
    return struct.pack("<%di" % k, *[int(t) for t in ids]) + struct.pack("<%df" % k, *logprobs) + struct.pack("<f", tail)


def _write_atomic(path, data):
    # Temp file + rename: a crash never leaves a half-written file under its real name.
    temp = "%s.tmp-%d" % (path, os.getpid())
    with open(temp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)


def write_part(out, kind, rows, vocab, teacher, rows_per_shard, shards, k=None):
    """Writes shard files and part.json into `out`. `shards` maps shard number -> list of rows."""
    if kind not in ("dense", "topk"):
        raise ValueError('kind must be "dense" or "topk"')
    if kind == "topk" and not (isinstance(k, int) and 1 <= k <= vocab):
        raise ValueError("k must be an integer in [1, vocab] for topk")
    os.makedirs(out, exist_ok=True)
    entries = []
    for shard in sorted(shards):
        first = shard * rows_per_shard
        if not (0 <= first < rows):
            raise ValueError("shard %d starts at row %d, outside [0, %d)" % (shard, first, rows))
        expected = min(rows_per_shard, rows - first)
        shard_rows = shards[shard]
        if len(shard_rows) != expected:
            raise ValueError("shard %d has %d rows, expected %d" % (shard, len(shard_rows), expected))
        data = b"".join(encode_row(kind, r, vocab, k) for r in shard_rows)
        name = shard_file_name(shard)
        _write_atomic(os.path.join(out, name), data)
        entries.append({
            "file": name,
            "firstRow": first,
            "rows": expected,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "crc32": zlib.crc32(data) & 0xFFFFFFFF,
        })
    part = {
        "format": PART_FORMAT,
        "kind": kind,
        "rows": rows,
        "vocab": vocab,
        "teacher": teacher,
        "rowsPerShard": rows_per_shard,
        "shards": entries,
        "createdAt": datetime.now(timezone.utc).isoformat(),
    }
    if kind == "topk":
        part["k"] = k
    # part.json last: a part without it is visibly unfinished.
    _write_atomic(os.path.join(out, "part.json"), json.dumps(part, indent=2).encode("utf-8"))
    return part


def synthetic_row(kind, row, vocab, k):
    """Deterministic rows exactly representable in float32 (the tests build the same rows in TypeScript)."""
    if kind == "dense":
        return [((row * 7 + v * 3) % 11 - 5) / 4 for v in range(vocab)]
    ids = [(row * 5 + j) % vocab for j in range(k)]
    logprobs = [-((row * 7 + j * 3) % 11) / 4 - 1 for j in range(k)]
    return (ids, logprobs, (row % 4) / 8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--kind", choices=["dense", "topk"], required=True)
    parser.add_argument("--rows", type=int, required=True, help="rows in the whole transfer set")
    parser.add_argument("--vocab", type=int, required=True)
    parser.add_argument("--k", type=int)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--rows-per-shard", type=int, required=True)
    parser.add_argument("--shards", required=True, help="comma-separated shard numbers to write")
    parser.add_argument("--synthetic", action="store_true", help="fill rows with the deterministic test pattern")
    args = parser.parse_args()
    if not args.synthetic:
        parser.error("the command line only writes --synthetic rows; import write_part() for real data")
    shards = {}
    for s in (int(x) for x in args.shards.split(",") if x.strip()):
        first = s * args.rows_per_shard
        count = min(args.rows_per_shard, args.rows - first)
        shards[s] = [synthetic_row(args.kind, first + i, args.vocab, args.k) for i in range(max(0, count))]
    part = write_part(args.out, args.kind, args.rows, args.vocab, args.teacher, args.rows_per_shard, shards, k=args.k)
    print(json.dumps({"out": args.out, "shards": [e["file"] for e in part["shards"]]}))


if __name__ == "__main__":
    main()
