import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuDescribe } from '@distillery/webgpu/testing';
import { findTorchPython } from '../src/baselines/torch.js';
import type { BenchDocument, BenchResult } from '../src/suite.js';

// The GPU kit's JavaScript part (no node binary, Dawn gzipped: fast to build), in a temp folder
// with no node_modules above it: the bundle must find everything in the kit, Dawn included.
const scripts = new URL('../scripts/', import.meta.url).pathname;
let tmp = '';
let kit = '';
let work = '';

const runKit = (args: string[], env: Record<string, string> = {}) =>
  spawnSync('bash', [join(kit, 'run.sh'), ...args], {
    cwd: tmp,
    encoding: 'utf8',
    env: { ...process.env, NODE: process.execPath, KIT_WORK: work, NODE_PATH: '', ...env },
    timeout: 120_000,
  });

/** An NVIDIA ICD in the loader's own search path (then run.sh leaves Vulkan alone). */
function registeredNvidiaIcd(): boolean {
  return ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'].some(
    (dir) => existsSync(dir) && readdirSync(dir).some((f) => /nvidia/i.test(f)),
  );
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'gpu-kit-'));
  kit = join(tmp, 'kit');
  work = join(tmp, 'work');
  for (let dir = tmp; dir !== dirname(dir); dir = dirname(dir))
    if (existsSync(join(dir, 'node_modules')))
      throw new Error(`${dir}/node_modules is reachable from the temp folder: the test would prove nothing`);
  execFileSync(process.execPath, [join(scripts, 'gpu-kit.mjs'), '--out', kit, '--no-node', '--gzip', '--no-build'], {
    encoding: 'utf8',
    stdio: 'pipe',
  });
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('GPU kit', () => {
  it('holds the bundle, the loader with Linux x64 Dawn only, the suites’ data, the vendor baseline and run.sh', () => {
    const manifest = JSON.parse(readFileSync(join(kit, 'kit.json'), 'utf8')) as {
      files: Array<{ path: string; bytes: number }>;
      rewritten: string[];
      node: unknown;
    };
    const files = filesUnder(kit);
    expect(files).toEqual([...manifest.files.map((f) => f.path), 'kit.json'].sort());
    expect(files).toEqual(
      expect.arrayContaining([
        'bench.mjs',
        'adapter.mjs',
        'run.sh',
        'vendor-baseline.py',
        'webgpu/index.js',
        'webgpu/dist/linux-x64/dawn.node.gz',
        'files/benchmarks/python/torch_baseline.py',
        'files/packages/data-tinystories/stories260K.gguf',
      ]),
    );
    expect(files.filter((f) => f.includes('dawn') && !f.startsWith('webgpu/dist/linux-x64/'))).toEqual([]);
    expect(manifest.node).toBeNull();
    // Each file that finds data through import.meta.url points into files/, where its data is.
    expect(manifest.rewritten).toEqual(
      expect.arrayContaining(['benchmarks/src/baselines/torch.ts', 'packages/data-tinystories/dist/node.js']),
    );
    // The bundle (~6 MiB), the data (~6) and gzipped Dawn (~7): another platform's Dawn alone is 20 MiB or more.
    expect(manifest.files.reduce((n, f) => n + f.bytes, 0)).toBeLessThan(30 * 2 ** 20);
  });

  it('run.sh lists the suites "all" stands for', () => {
    const listed = runKit(['--list']);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n')).toEqual(expect.arrayContaining(['bandwidth', 'kd-loss', 'train']));
  });

  it('run.sh stops with exit 3 and says so when there is no WebGPU adapter', () => {
    const out = join(tmp, 'out-no-adapter');
    const run = runKit(['bandwidth', '--quick'], { OUT: out, VK_DRIVER_FILES: join(tmp, 'no-such-icd.json') });
    expect(run.status, run.stdout + run.stderr).toBe(3);
    expect(run.stderr).toContain('gpu-kit: no WebGPU adapter, nothing was benchmarked');
    expect(filesUnder(out)).toEqual(['run.log']);
  });

  it.skipIf(registeredNvidiaIcd())('run.sh points Vulkan at the NVIDIA ICD when no NVIDIA ICD is registered', () => {
    const icd = join(tmp, 'nvidia_icd.json');
    writeFileSync(
      icd,
      JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: join(tmp, 'libGLX_nvidia.so.0'), api_version: '1.3' } }),
    );
    const env: Record<string, string> = { OUT: join(tmp, 'out-icd'), KIT_NVIDIA_ICD: icd, VK_DRIVER_FILES: '', VK_ICD_FILENAMES: '' };
    const run = runKit(['bandwidth', '--quick'], env);
    // This ICD's library does not exist: the adapter search finds nothing, which shows it was the only ICD used.
    expect(run.status, run.stdout + run.stderr).toBe(3);
    expect(run.stdout).toContain(`gpu-kit: Vulkan ICD: ${icd}`);
  });

  it('ratios.mjs pairs the WebGPU rows with the vendor run: best matmul kernel per size, KD loss against both copies', () => {
    const out = join(tmp, 'out-ratios');
    mkdirSync(join(out, 'results'), { recursive: true });
    const result = (suite: string, name: string, params: BenchResult['params'], figures: Partial<BenchResult>): BenchResult => ({
      suite,
      name,
      params,
      ms: { median: 1, min: 1, max: 1, runs: 3 },
      ...figures,
    });
    const doc: BenchDocument = {
      schema: 1,
      adapter: { vendor: 'nvidia', architecture: 'hopper', device: 'h100', description: 'NVIDIA H100', backend: 'dawn-node' },
      host: { os: 'linux', cpu: 'x', cores: 16, node: 'v20' },
      date: '2026-01-01T00:00:00.000Z',
      results: [
        result('train', 'matmul', { M: 1024, N: 1024, K: 1024, dtype: 'f32', kernel: 'a' }, { gflops: 100 }),
        result('train', 'matmul', { M: 1024, N: 1024, K: 1024, dtype: 'f32', kernel: 'b' }, { gflops: 300 }),
        result('train', 'matmul', { M: 1024, N: 1024, K: 1024, dtype: 'f32', kernel: 'c' }, { gflops: 900, skipped: 'out of memory' }),
        result(
          'kd-loss',
          'fused forward-KL + CE',
          { rows: 4096, vocab: 32000, dtype: 'f32', roofline: 'copyBufferToBuffer' },
          { gbps: 1500, metrics: { ratioToRoofline: 0.5 } },
        ),
      ],
    };
    writeFileSync(join(out, 'results', 'nvidia-hopper.json'), JSON.stringify(doc));
    const vendor = {
      device: 'NVIDIA H100 80GB HBM3',
      torch: '2.11.0',
      cuda: '12.8',
      copyGBps: 3000,
      results: [
        { name: 'matmul-f32', params: { m: 1024 }, gflops: 600 },
        { name: 'kd-loss-f32', params: { rows: 4096, vocab: 32000 }, gbps: 1000 },
      ],
    };
    writeFileSync(join(out, 'vendor-baseline.json'), JSON.stringify(vendor));
    const printed = execFileSync(process.execPath, [join(kit, 'ratios.mjs'), out], { encoding: 'utf8' });
    expect(printed).toContain('| 1024³ | 300 (b) | 600 | 50 % |');
    expect(printed).toContain('| 4096 × 32000, f32 | 1500.0 | 50 % (copyBufferToBuffer) | 50 % | 1000.0 | 1.50× |');
  });
});

gpuDescribe('GPU kit on this machine’s adapter', () => {
  it('run.sh runs suites and leaves the results documents, the adapter and the log in $OUT', () => {
    // collect's test server runs in a child process that imports @distillery/black-box/node by URL: the kit's black-box-node.mjs.
    const out = join(tmp, 'out');
    const run = runKit(['bandwidth', 'collect', '--quick', '--no-vendor'], { OUT: out });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const adapter = JSON.parse(readFileSync(join(out, 'adapter.json'), 'utf8')) as { description: string };
    const files = filesUnder(out);
    expect(files).toEqual(['adapter.json', 'results/cpu.json', expect.stringMatching(/^results\/[a-z0-9-]+\.json$/), 'run.log']);
    const gpuDoc = JSON.parse(readFileSync(join(out, files[2]!), 'utf8')) as BenchDocument;
    expect(gpuDoc.adapter?.description).toBe(adapter.description);
    expect(gpuDoc.results.some((r) => r.suite === 'bandwidth' && r.name === 'roofline' && r.gbps! > 0)).toBe(true);
    const cpuDoc = JSON.parse(readFileSync(join(out, 'results/cpu.json'), 'utf8')) as BenchDocument;
    expect(cpuDoc.results.filter((r) => r.suite === 'collect').length).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'run.log'), 'utf8')).toContain('gpu-kit: done');
  });

  it('run.sh refuses a CPU fallback adapter on a machine with an NVIDIA GPU (a stand-in nvidia-smi here)', () => {
    const bin = join(tmp, 'fake-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'nvidia-smi'), '#!/bin/sh\necho "NVIDIA H100 80GB HBM3, 570.00"\n', { mode: 0o755 });
    const run = runKit(['bandwidth', '--quick'], { OUT: join(tmp, 'out-fallback'), PATH: `${bin}:${process.env.PATH}` });
    if (!/"isFallback":true/.test(run.stdout)) {
      // A real GPU adapter: nothing to refuse, the suite runs.
      expect(run.status, run.stdout + run.stderr).toBe(0);
      return;
    }
    expect(run.status, run.stdout + run.stderr).toBe(4);
    expect(run.stdout).toContain('gpu-kit: nvidia-smi: NVIDIA H100 80GB HBM3, 570.00');
    expect(run.stderr).toContain('the adapter is a CPU fallback although this machine has an NVIDIA GPU');
  });

  it('the unpacked bundle runs from outside the repository, with no node_modules in reach', () => {
    // run.sh (above) unpacked Dawn into KIT_WORK; the bundle there is what runs on the GPU machine.
    const result = spawnSync(process.execPath, [join(work, 'bench.mjs'), 'bandwidth', '--quick', '--json'], {
      cwd: tmp,
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: '' },
      timeout: 120_000,
    });
    expect(result.status, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout) as BenchDocument;
    expect(doc.schema).toBe(1);
    expect(doc.adapter?.backend).toBe('dawn-node');
    expect(doc.adapter?.description.length).toBeGreaterThan(0);
    expect(doc.results.map((r) => r.suite)).toContain('bandwidth');
  });
});

const python = findTorchPython();
describe.skipIf(!python)('vendor baseline', () => {
  // One definition of the loss: the vendor run times the function the suites' PyTorch rows time.
  it("times python/torch_baseline.py's kd_loss_terms, imported (not a copy)", () => {
    const probe = [
      'import importlib.util, sys',
      "spec = importlib.util.spec_from_file_location('vendor', sys.argv[1])",
      'vendor = importlib.util.module_from_spec(spec); spec.loader.exec_module(vendor)',
      'print(vendor.kd_loss_terms.__code__.co_filename)',
    ].join('\n');
    const printed = execFileSync(python!, ['-c', probe, join(scripts, 'vendor-baseline.py')], { encoding: 'utf8' }).trim();
    expect(resolve(printed)).toBe(resolve(scripts, '..', 'python', 'torch_baseline.py'));
  });

  it('runs its SGEMM (TF32 off), copy and KD-loss rows (here on the CPU) and writes one JSON document', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'vendor-')), 'vendor.json');
    execFileSync(python!, [join(scripts, 'vendor-baseline.py'), '--device', 'cpu', '--quick', '--out', out], { stdio: 'pipe' });
    const doc = JSON.parse(readFileSync(out, 'utf8')) as {
      tf32: boolean;
      copyGBps: number;
      results: Array<{ name: string; gflops?: number; gbps?: number; maxErrorVsF64?: number; ratioToCopy?: number }>;
    };
    rmSync(dirname(out), { recursive: true, force: true });
    expect(doc.tf32).toBe(false);
    const matmuls = doc.results.filter((r) => r.name === 'matmul-f32');
    expect(matmuls.length).toBeGreaterThan(0);
    for (const m of matmuls) {
      expect(m.gflops).toBeGreaterThan(0);
      expect(m.maxErrorVsF64).toBeLessThan(1e-4);
    }
    expect(doc.copyGBps).toBeGreaterThan(0);
    const kd = doc.results.find((r) => r.name === 'kd-loss-f32');
    expect(kd?.ratioToCopy).toBeGreaterThan(0);
  });
});
