# llama.cpp's own conversions as an oracle: the reference quantisers (quantize_row_*_ref, what
# llama-quantize runs without an importance matrix), the dequantisers and the f16/bf16 row
# conversions exported by the libggml-base.so that node-llama-cpp ships, called through ctypes.
# usage: python3 ggml_ref.py LIBGGML_BASE JOB [JOB ...], each JOB = quantize|dequantize:TYPE:N:IN:OUT
#   quantize:   IN holds N float32 values, OUT gets TYPE's bytes
#   dequantize: IN holds TYPE's bytes for N values, OUT gets N float32 values
import ctypes
import sys

LAYOUT = {  # elements per block, bytes per block, quantiser, dequantiser
    'F16': (1, 2, 'ggml_fp32_to_fp16_row', 'ggml_fp16_to_fp32_row'),
    'BF16': (1, 2, 'ggml_fp32_to_bf16_row_ref', 'ggml_bf16_to_fp32_row'),
    'Q8_0': (32, 34, 'quantize_row_q8_0_ref', 'dequantize_row_q8_0'),
    'Q4_0': (32, 18, 'quantize_row_q4_0_ref', 'dequantize_row_q4_0'),
    'Q4_K': (256, 144, 'quantize_row_q4_K_ref', 'dequantize_row_q4_K'),
}
lib = ctypes.CDLL(sys.argv[1])


def run(mode, type_name, n, src, dst):
    n = int(n)
    elements, size, quantizer, dequantizer = LAYOUT[type_name]
    encoded_bytes = n // elements * size
    data = open(src, 'rb').read()
    if mode == 'quantize':
        x = (ctypes.c_float * n).from_buffer_copy(data)
        y = (ctypes.c_uint8 * encoded_bytes)()
        fn = getattr(lib, quantizer)
    else:
        x = (ctypes.c_uint8 * encoded_bytes).from_buffer_copy(data)
        y = (ctypes.c_float * n)()
        fn = getattr(lib, dequantizer)
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    fn(ctypes.addressof(x), ctypes.addressof(y), n)
    open(dst, 'wb').write(bytes(y))


for job in sys.argv[2:]:
    run(*job.split(':'))
