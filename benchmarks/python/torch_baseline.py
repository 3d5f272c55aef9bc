"""PyTorch CPU baseline for distillery-bench, driven by the suites through a child process.

Protocol: one JSON request per line on stdin, one JSON answer per line on stdout. Tensors arrive
as raw little-endian files (f32 or i32) written by the suite from the very inputs our kernels read,
so both sides compute on the same numbers. Each timed request runs its operation once and reports
milliseconds measured here (time.perf_counter around the work only), so the suite can interleave
one PyTorch call with one of ours.

What is timed is what a PyTorch user would write: F.log_softmax / F.kl_div / F.cross_entropy with
autograd, nn.Linear-style matmuls, torch.optim.AdamW with clip_grad_norm_. Threads = cores.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(os.cpu_count() or 1)
torch.set_grad_enabled(True)
tensors = {}
state = {}


def loaded_libraries(pattern):
    """Shared objects mapped into this process whose path contains `pattern` (which BLAS really runs)."""
    found = set()
    try:
        with open('/proc/self/maps') as maps:
            for line in maps:
                path = line.split()[-1]
                if pattern in path.lower():
                    found.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(found)


def info(_request):
    a = torch.randn(64, 64)
    (a @ a).sum().item()  # loads the BLAS
    blas = loaded_libraries('blas')
    return {
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'blasInfo': 'generic' if 'BLAS_INFO=generic' in torch.__config__.show() else 'see torch.__config__',
        'blasLibraries': blas,
        'openblasCoretype': os.environ.get('OPENBLAS_CORETYPE'),
        'openblasL2Size': os.environ.get('OPENBLAS_L2_SIZE'),
        'preload': os.environ.get('LD_PRELOAD', ''),
        'allocator': 'jemalloc' if loaded_libraries('jemalloc') else 'glibc malloc',
    }


def load(request):
    dtype = {'f32': torch.float32, 'i32': torch.int32}[request['dtype']]
    count = 1
    for d in request['shape']:
        count *= d
    t = torch.from_file(request['path'], shared=False, size=count, dtype=dtype).reshape(request['shape'])
    tensors[request['name']] = t.long() if request['dtype'] == 'i32' else t.contiguous()
    return {}


def free(request):
    for name in request['names']:
        tensors.pop(name, None)
    state.clear()
    return {}


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def kd_loss_terms(z, t, labels, T, soft, hard, divergence='forward-kl', beta=0.5):
    """The divergence at T (x T^2) plus hard cross-entropy at T = 1, per row mean: the fused kernel's loss.

    Forward KL(p || q), reverse KL(q || p) (q the student's tempered softmax, p the teacher's) or
    the generalised JSD(beta) with m = beta p + (1 - beta) q, as docs/kernels.md writes them.
    """
    log_q = F.log_softmax(z / T, dim=-1)
    log_p = F.log_softmax(t / T, dim=-1)
    if divergence == 'forward-kl':
        d = F.kl_div(log_q, log_p, reduction='batchmean', log_target=True)
    elif divergence == 'reverse-kl':
        d = F.kl_div(log_p, log_q, reduction='batchmean', log_target=True)
    elif divergence == 'jsd':
        log_m = torch.logsumexp(torch.stack([log_p + math.log(beta), log_q + math.log1p(-beta)]), 0)
        d = beta * F.kl_div(log_m, log_p, reduction='batchmean', log_target=True) + (1 - beta) * F.kl_div(
            log_m, log_q, reduction='batchmean', log_target=True
        )
    else:
        raise ValueError(f'unknown divergence {divergence!r}')
    loss = soft * T * T * d
    if hard:
        loss = loss + hard * F.cross_entropy(z, labels)
    return loss


def kd_loss(request):
    z0, t, labels = tensors[request['z']], tensors[request['t']], tensors[request['labels']]
    divergence = request.get('divergence', 'forward-kl')
    beta = request.get('beta', 0.5)

    def run():
        z = z0.detach().requires_grad_()
        loss = kd_loss_terms(z, t, labels, request['T'], request['softWeight'], request['hardWeight'], divergence, beta)
        loss.backward()
        return loss.item(), z.grad

    ms, (loss, _grad) = timed(run)
    return {'ms': ms, 'loss': loss}


def softmax(request):
    z = tensors[request['z']]
    with torch.no_grad():
        ms, _ = timed(lambda: torch.softmax(z / request['T'], dim=-1))
    return {'ms': ms}


def matmul(request):
    a, b = tensors[request['a']], tensors[request['b']]
    with torch.no_grad():
        ms, _ = timed(lambda: a @ b)
    return {'ms': ms}


def mlp_init(request):
    """784-800-800-10 ReLU MLP, AdamW with clipping at 1: the train suite's step."""
    torch.manual_seed(1)
    widths = request['widths']
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    state['model'] = model
    state['optimizer'] = torch.optim.AdamW(model.parameters(), lr=1e-4)
    return {'parameters': sum(p.numel() for p in model.parameters())}


def mlp_step(request):
    model, optimizer = state['model'], state['optimizer']
    x, teacher, labels = tensors[request['x']], tensors[request['teacher']], tensors[request['labels']]

    def run():
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = kd_loss_terms(logits, teacher, labels, request['T'], request['softWeight'], request['hardWeight'])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    ms, loss = timed(run)
    return {'ms': ms, 'loss': loss}


def linear_kd(request):
    """logits = hidden · weightᵀ, KD loss, gradients for hidden and weight (the unfused path in PyTorch)."""
    hidden0, weight0, teacher = tensors[request['hidden']], tensors[request['weight']], tensors[request['teacher']]
    rss_before = rss_bytes()

    def run():
        hidden = hidden0.detach().requires_grad_()
        weight = weight0.detach().requires_grad_()
        logits = hidden @ weight.t()
        loss = kd_loss_terms(logits, teacher, None, request['T'], request['softWeight'], 0)
        loss.backward()
        return loss.item()

    ms, loss = timed(run)
    return {'ms': ms, 'loss': loss, 'rssGrowthBytes': max(0, peak_rss_bytes() - rss_before)}


def rss_bytes():
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def peak_rss_bytes():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


OPS = {'info': info, 'load': load, 'free': free, 'kd-loss': kd_loss, 'softmax': softmax, 'matmul': matmul, 'mlp-init': mlp_init, 'mlp-step': mlp_step, 'linear-kd': linear_kd}

# Imported by scripts/vendor-baseline.py for kd_loss_terms: serve requests only when run.
if __name__ == '__main__':
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            answer = OPS[request['op']](request)
            answer['ok'] = True
        except Exception as error:  # the suite reports it and skips the row
            answer = {'ok': False, 'error': f'{type(error).__name__}: {error}'}
        sys.stdout.write(json.dumps(answer) + '\n')
        sys.stdout.flush()
