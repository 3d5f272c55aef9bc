"""The vendor-library run the WebGPU numbers are compared against, in plain PyTorch (CUDA).

Run on the GPU machine by the GPU kit (`.gpu-kit/run.sh`), beside `distillery-bench` on the same
GPU: fp32 matmul with TF32 off (cuBLAS SGEMM, the reference for "WebGPU matmul >= 50 % of the
vendor library"), device-to-device copy bandwidth (the roofline for "KD loss >= 70 % of copy
bandwidth") and PyTorch's own KD loss forward + backward (the same loss as the fused kernel and as
python/torch_baseline.py: forward KL at T (x T^2) + hard cross-entropy, batch mean).

Timing: CUDA events around each call after warm-up; the median of the timed calls.

    python3 vendor-baseline.py --out results.json          # CUDA; about 30 s on an H100
    python3 vendor-baseline.py --device cpu --quick        # a smoke run of the same code without a GPU

Exits 3 (writing nothing) when CUDA is not available and --device cpu is not given.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone

try:
    import torch
    import torch.nn.functional as F
except ImportError as error:  # pragma: no cover - depends on the machine
    print(f'vendor-baseline: PyTorch is not installed ({error})', file=sys.stderr)
    sys.exit(3)


class Timer:
    """Times one call: CUDA events on the GPU (what the GPU spent), perf_counter on the CPU."""

    def __init__(self, device):
        self.cuda = device.type == 'cuda'

    def __call__(self, fn):
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
        started = time.perf_counter()
        fn()
        return (time.perf_counter() - started) * 1000


def measure(timer, fn, warmup, runs):
    for _ in range(warmup):
        fn()
    if timer.cuda:
        torch.cuda.synchronize()
    samples = [timer(fn) for _ in range(runs)]
    return {'median': statistics.median(samples), 'min': min(samples), 'max': max(samples), 'runs': runs}


def matmul_rows(device, timer, sizes, warmup, runs):
    rows = []
    for n in sizes:
        generator = torch.Generator(device=device).manual_seed(n)
        a = torch.rand(n, n, generator=generator, device=device) - 0.5
        b = torch.rand(n, n, generator=generator, device=device) - 0.5
        c = torch.empty(n, n, device=device)
        ms = measure(timer, lambda: torch.matmul(a, b, out=c), warmup, runs)
        # Proof that TF32 is off: its 10-bit mantissa leaves errors near 1e-3 of the largest entry, fp32 near 1e-6.
        exact = a.double() @ b.double()
        error = ((c.double() - exact).abs().max() / exact.abs().max()).item()
        flops = 2 * n * n * n
        rows.append({'name': 'matmul-f32', 'params': {'m': n, 'n': n, 'k': n, 'tf32': False}, 'ms': ms, 'flops': flops,
                     'gflops': flops / (ms['median'] * 1e6), 'maxErrorVsF64': error})
        if error > 1e-4:
            print(f'vendor-baseline: matmul {n} differs from float64 by {error:.1e} of its largest entry: TF32 seems on', file=sys.stderr)
        del exact
        del a, b, c
    return rows


def copy_rows(device, timer, sizes, warmup, runs):
    """dst.copy_(src): GB/s counting the read and the write (what distillery-bench's roofline counts) and the bytes read only."""
    rows = []
    for size in sizes:
        src = torch.ones(size // 4, device=device)
        dst = torch.empty_like(src)
        ms = measure(timer, lambda: dst.copy_(src), warmup, runs)
        rows.append({'name': 'copy-d2d', 'params': {'bytes': size}, 'ms': ms, 'bytes': 2 * size,
                     'gbps': 2 * size / (ms['median'] * 1e6), 'gbpsReadOnly': size / (ms['median'] * 1e6)})
        del src, dst
    return rows


def load_kd_loss_terms():
    """python/torch_baseline.py's kd_loss_terms: the loss the suites' PyTorch rows time (one definition).

    Found beside this script in the repository (../python) or in the GPU kit (files/benchmarks/python).
    """
    import importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in (('..', 'python'), ('files', 'benchmarks', 'python')):
        path = os.path.join(here, *rel, 'torch_baseline.py')
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location('torch_baseline', path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.kd_loss_terms
    raise FileNotFoundError(f'torch_baseline.py not found beside {here}')


kd_loss_terms = load_kd_loss_terms()


def kd_loss_rows(device, timer, shapes, warmup, runs, copy_gbps):
    rows = []
    for rows_n, vocab in shapes:
        # Generated on the device: 4096 x 128256 on the host would take longer than the measurement.
        generator = torch.Generator(device=device).manual_seed(rows_n * 7 + vocab)
        z0 = torch.randn(rows_n, vocab, generator=generator, device=device) * 3
        t = torch.randn(rows_n, vocab, generator=generator, device=device) * 3
        labels = torch.arange(rows_n, device=device).mul(7919).add(13).remainder(vocab)

        def step():
            z = z0.detach().requires_grad_()
            kd_loss_terms(z, t, labels, 2.0, 0.5, 0.5).backward()
            return z.grad

        ms = measure(timer, step, warmup, runs)
        # The bytes distillery-bench's kd-loss suite counts: read student and teacher, write the gradient, per-row terms.
        moved = rows_n * vocab * 4 * 3 + rows_n * 4 + rows_n * 4 * 3
        gbps = moved / (ms['median'] * 1e6)
        row = {'name': 'kd-loss-f32', 'params': {'rows': rows_n, 'vocab': vocab, 'temperature': 2, 'softWeight': 0.5, 'hardWeight': 0.5},
               'ms': ms, 'bytes': moved, 'gbps': gbps}
        if copy_gbps:
            row['ratioToCopy'] = gbps / copy_gbps
        rows.append(row)
        del z0, t, labels
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', help='write the JSON document here (default: print it)')
    parser.add_argument('--device', default='cuda', choices=['cuda', 'cpu'])
    parser.add_argument('--quick', action='store_true', help='small shapes, few runs (a smoke run)')
    args = parser.parse_args()

    if args.device == 'cuda' and not torch.cuda.is_available():
        print('vendor-baseline: CUDA is not available to PyTorch; skipped (nothing written)', file=sys.stderr)
        return 3
    device = torch.device(args.device)
    # Plain fp32: cuBLAS would otherwise be allowed TF32 tensor cores (10-bit mantissa), not what WGSL f32 computes.
    # PyTorch >= 2.9 has fp32_precision and refuses a mix of it with the legacy allow_tf32 flag.
    # (Older versions answer an unknown flag with AssertionError.) maxErrorVsF64 below checks the outcome.
    try:
        torch.backends.cuda.matmul.fp32_precision = 'ieee'
    except (AssertionError, AttributeError):
        torch.backends.cuda.matmul.allow_tf32 = False
    timer = Timer(device)
    warmup, runs = (1, 3) if args.quick else (3, 10)
    matmul_sizes = [128, 256] if args.quick else [1024, 2048, 4096]
    copy_sizes = [4 << 20] if args.quick else [64 << 20, 1 << 30]
    kd_shapes = [(64, 1000)] if args.quick else [(1024, 32000), (4096, 32000), (4096, 128256)]

    started = time.perf_counter()
    results = matmul_rows(device, timer, matmul_sizes, warmup, runs)
    copies = copy_rows(device, timer, copy_sizes, warmup, runs)
    results += copies
    copy_gbps = max(r['gbps'] for r in copies)
    results += kd_loss_rows(device, timer, kd_shapes, warmup, runs, copy_gbps)

    doc = {
        'schema': 'distillery-vendor-baseline/1',
        'date': datetime.now(timezone.utc).isoformat(),
        'device': torch.cuda.get_device_name(0) if device.type == 'cuda' else platform.processor() or 'cpu',
        'torch': torch.__version__,
        'cuda': torch.version.cuda,
        'python': platform.python_version(),
        'tf32': False,
        'timing': 'CUDA events per call after warm-up; median' if device.type == 'cuda' else 'perf_counter per call; median',
        'copyGBps': copy_gbps,
        'seconds': time.perf_counter() - started,
        'results': results,
    }
    for r in results:
        figure = f"{r['gflops']:.0f} GFLOP/s" if 'gflops' in r else f"{r['gbps']:.1f} GB/s"
        extra = f" ({r['ratioToCopy'] * 100:.0f} % of copy)" if 'ratioToCopy' in r else ''
        print(f"vendor-baseline {r['name']} {r['params']}: {r['ms']['median']:.3f} ms, {figure}{extra}", file=sys.stderr)
    text = json.dumps(doc, indent=2) + '\n'
    if args.out:
        temp = f'{args.out}.tmp'
        with open(temp, 'w') as handle:
            handle.write(text)
        os.replace(temp, args.out)
        print(f'vendor-baseline: wrote {args.out}', file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
