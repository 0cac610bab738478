#!/usr/bin/env python3
"""llama.cpp's quantizer as a peer, through ctypes (standard library only): llama_model_quantize from the libllama
that node-llama-cpp ships -- the function llama-quantize's main() calls -- on a GGUF, with an optional legacy
imatrix (.dat, as llama-quantize --imatrix reads it).

argv: LIBLLAMA INPUT.gguf OUTPUT.gguf FTYPE (llama_ftype number) [IMATRIX.dat]
exit 0 when llama_model_quantize returned 0; its log goes to stderr.
"""
import ctypes
import struct
import sys


class ImatrixData(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.POINTER(ctypes.c_float)), ("size", ctypes.c_size_t)]


class QuantizeParams(ctypes.Structure):  # llama.h: struct llama_model_quantize_params
    _fields_ = [("nthread", ctypes.c_int32), ("ftype", ctypes.c_int), ("output_tensor_type", ctypes.c_int),
                ("token_embedding_type", ctypes.c_int), ("allow_requantize", ctypes.c_bool),
                ("quantize_output_tensor", ctypes.c_bool), ("only_copy", ctypes.c_bool), ("pure", ctypes.c_bool),
                ("keep_split", ctypes.c_bool), ("dry_run", ctypes.c_bool), ("imatrix", ctypes.POINTER(ImatrixData)),
                ("kv_overrides", ctypes.c_void_p), ("tt_overrides", ctypes.c_void_p), ("prune_layers", ctypes.c_void_p),
                ("max_buf_size", ctypes.c_size_t)]


def read_legacy_imatrix(path):
    """name -> list of floats (value / ncall), as llama-quantize's load_legacy_imatrix."""
    with open(path, "rb") as f:
        buf = f.read()
    off = 0

    def i32():
        nonlocal off
        v = struct.unpack_from("<i", buf, off)[0]
        off += 4
        return v
    out = {}
    for _ in range(i32()):
        n = i32()
        name = buf[off:off + n].decode()
        off += n
        ncall, nval = i32(), i32()
        vals = struct.unpack_from(f"<{nval}f", buf, off)
        off += 4 * nval
        out[name] = [v / ncall if ncall > 0 else v for v in vals]
    return out


def main():
    lib_path, src, dst, ftype = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    lib = ctypes.CDLL(lib_path)
    lib.llama_model_quantize_default_params.restype = QuantizeParams
    lib.llama_model_quantize.restype = ctypes.c_uint32
    lib.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(QuantizeParams)]
    lib.llama_backend_init()
    params = lib.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    keep = []
    if len(sys.argv) > 5:
        entries = read_legacy_imatrix(sys.argv[5])
        arr = (ImatrixData * (len(entries) + 1))()
        for i, (name, vals) in enumerate(entries.items()):
            data = (ctypes.c_float * len(vals))(*vals)
            keep.append(data)
            arr[i] = ImatrixData(name.encode(), ctypes.cast(data, ctypes.POINTER(ctypes.c_float)), len(vals))
        arr[len(entries)] = ImatrixData(None, None, 0)
        params.imatrix = ctypes.cast(arr, ctypes.POINTER(ImatrixData))
    rc = lib.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    sys.exit(0 if rc == 0 else 1)


if __name__ == "__main__":
    main()
