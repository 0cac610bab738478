#!/usr/bin/env python3
"""ggml's own quantizers and dequantizers as a peer, through ctypes (standard library only).

Loads libggml-base (the shared library node-llama-cpp ships, i.e. llama.cpp's ggml) and, per job:
  op "quantize" (default): calls ggml_quantize_chunk -- the function llama-quantize calls for every tensor -- on
    F32 rows read from `src`, and compares the result block by block with the bytes at `ours`;
  op "dequantize": decodes the quantized rows at `src` with ggml's dequantize_row_<type> (ggml_fp16/bf16_to_fp32_row
    for F16/BF16: what llama.cpp's CPU backend uses to read a tensor) and compares the floats block by block,
    bit for bit, with the F32 rows at `ours`.

stdin: JSON {"lib": path to libggml-base.so, "jobs": [{"op", "name", "type" (ggml_type id), "type_name" (for
              dequantize: q4_0, q4_K, f16, ...), "rows", "cols", "src", "src_offset", "ours", "ours_offset",
              "imatrix": [cols floats] | null}]}
stdout: JSON {"results": [{"name", "blocks", "differ", "first": index of the first differing block or -1,
                          "row", "col"  (of the first differing block), "ggml_hex", "ours_hex" (that block)}]}
"""
import ctypes
import json
import sys


def main():
    req = json.load(sys.stdin)
    lib = ctypes.CDLL(req["lib"])
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    lib.ggml_blck_size.restype = ctypes.c_int64
    lib.ggml_blck_size.argtypes = [ctypes.c_int]
    lib.ggml_type_size.restype = ctypes.c_size_t
    lib.ggml_type_size.argtypes = [ctypes.c_int]
    results = []
    for job in req["jobs"]:
        if job.get("op") == "dequantize":
            results.append(dequantize(lib, job))
            continue
        t, rows, cols = job["type"], job["rows"], job["cols"]
        with open(job["src"], "rb") as f:
            f.seek(job["src_offset"])
            src = f.read(4 * rows * cols)
        if len(src) != 4 * rows * cols:
            raise SystemExit(f"{job['name']}: short read of the F32 source")
        row_bytes = lib.ggml_row_size(t, cols)
        dst = ctypes.create_string_buffer(row_bytes * rows)
        src_buf = ctypes.create_string_buffer(src, len(src))
        imat = None
        if job.get("imatrix") is not None:
            imat = (ctypes.c_float * cols)(*job["imatrix"])
        n = lib.ggml_quantize_chunk(t, src_buf, dst, 0, rows, cols, imat)
        if n != row_bytes * rows:
            raise SystemExit(f"{job['name']}: ggml_quantize_chunk wrote {n} bytes, expected {row_bytes * rows}")
        theirs = dst.raw
        with open(job["ours"], "rb") as f:
            f.seek(job["ours_offset"])
            ours = f.read(len(theirs))
        results.append(compare_blocks(job["name"], theirs, ours, lib.ggml_type_size(t), lib.ggml_blck_size(t), cols))
    json.dump({"results": results}, sys.stdout)


def compare_blocks(name, theirs, ours, bs, elems, cols):
    """Block-by-block comparison of two byte strings (bs bytes per block of `elems` values, rows of `cols`)."""
    nblocks = len(theirs) // bs
    differ, first = 0, -1
    if len(ours) != len(theirs):
        differ, first = nblocks, 0
    elif ours == theirs:
        pass
    else:
        for b in range(nblocks):
            if theirs[b * bs:(b + 1) * bs] != ours[b * bs:(b + 1) * bs]:
                differ += 1
                if first < 0:
                    first = b
    r = {"name": name, "blocks": nblocks, "differ": differ, "first": first}
    if first >= 0:
        per_row = cols // elems
        r.update(row=first // per_row, col=(first % per_row) * elems,
                 ggml_hex=theirs[first * bs:(first + 1) * bs].hex(), ours_hex=ours[first * bs:(first + 1) * bs].hex())
    return r


def dequantize(lib, job):
    t, tn, rows, cols = job["type"], job["type_name"], job["rows"], job["cols"]
    fn_name = {"f16": "ggml_fp16_to_fp32_row", "bf16": "ggml_bf16_to_fp32_row"}.get(tn, f"dequantize_row_{tn}")
    fn = getattr(lib, fn_name)
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    qbytes = lib.ggml_row_size(t, cols) * rows
    with open(job["src"], "rb") as f:
        f.seek(job["src_offset"])
        q = f.read(qbytes)
    if len(q) != qbytes:
        raise SystemExit(f"{job['name']}: short read of the quantized tensor")
    src = ctypes.create_string_buffer(q, len(q))
    dst = ctypes.create_string_buffer(4 * rows * cols)
    fn(src, dst, rows * cols)
    with open(job["ours"], "rb") as f:
        f.seek(job["ours_offset"])
        ours = f.read(4 * rows * cols)
    elems = lib.ggml_blck_size(t)
    return compare_blocks(job["name"], dst.raw, ours, 4 * elems, elems, cols)


if __name__ == "__main__":
    main()
