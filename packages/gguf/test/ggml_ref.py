# Quantises float32 values with llama.cpp's own reference quantisers (quantize_row_*_ref in the
# libggml-base.so that node-llama-cpp ships), through ctypes: the byte-level oracle for quantize().
# usage: python3 ggml_ref.py LIBGGML_BASE TYPE IN.f32 OUT.bin
import ctypes
import sys

lib_path, type_name, src, dst = sys.argv[1:5]
blocks = {'Q8_0': (32, 34, 'quantize_row_q8_0_ref'), 'Q4_0': (32, 18, 'quantize_row_q4_0_ref'), 'Q4_K': (256, 144, 'quantize_row_q4_K_ref')}
elements, size, symbol = blocks[type_name]
data = open(src, 'rb').read()
n = len(data) // 4
x = (ctypes.c_float * n).from_buffer_copy(data)
y = (ctypes.c_uint8 * (n // elements * size))()
fn = getattr(ctypes.CDLL(lib_path), symbol)
fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
fn.restype = None
fn(ctypes.addressof(x), ctypes.addressof(y), n)
open(dst, 'wb').write(bytes(y))
