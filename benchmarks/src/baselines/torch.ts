import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * PyTorch on the CPU as an in-run baseline: `python/torch_baseline.py` in a child process, fed
 * the suite's own inputs through files, timed one call at a time so that the suite interleaves it
 * with its own calls. Absent (a note, no rows) when no Python with `torch` is found.
 *
 * The allocator matters: glibc's malloc serves every buffer above 32 MiB with a fresh mmap and
 * unmaps it on free, so each large PyTorch op page-faults its output in again (with 1,024×32,000
 * logits that is most of the time of an unfused loss). A tuned allocator (jemalloc, tcmalloc)
 * keeps the pages; `--torch-preload /path/libjemalloc.so.2` adds such a row ("pytorch+jemalloc"),
 * and `--torch-preload /path/libopenblas.so.0` one with OpenBLAS instead of the BLAS that
 * libblas.so.3 points to (Debian's default: the reference BLAS).
 */
export interface TorchInfo {
  torch: string;
  threads: number;
  blasInfo: string;
  blasLibraries: string[];
  openblasCoretype: string | null;
  openblasL2Size: string | null;
  preload: string;
  allocator: string;
}

interface Answer {
  ok: boolean;
  error?: string;
  ms?: number;
  [key: string]: unknown;
}

function scriptPath(): string {
  // From dist/*.js and from src/baselines/*.ts alike.
  for (const rel of ['../python/torch_baseline.py', '../../python/torch_baseline.py']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('python/torch_baseline.py not found beside the benchmarks package');
}

/** The first Python that imports torch: `--python`, then `python3`, then `/usr/bin/python3`. */
export function findTorchPython(preferred?: string): string | undefined {
  for (const python of [preferred, 'python3', '/usr/bin/python3']) {
    if (!python) continue;
    const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 120_000 });
    if (probe.status === 0) return python;
  }
  return undefined;
}

export class TorchBaseline {
  readonly name: string;
  info!: TorchInfo;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #answers: Array<(answer: Answer) => void> = [];
  #dir?: string;
  #files = 0;
  #exit?: string;

  private constructor(python: string, preload: string | undefined) {
    this.name = preload ? `pytorch+${basename(preload).replace(/^lib|\.so.*$/g, '')}` : 'pytorch';
    // PASSIVE: OpenMP workers sleep when idle instead of spinning, which would steal the cores from the
    // adapter (a CPU rasteriser) in the interleaved call of ours that follows.
    const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(cpus().length), OMP_WAIT_POLICY: 'PASSIVE' };
    if (preload) {
      env.LD_PRELOAD = preload;
      // Set on some processors for older OpenBLAS builds; they slow a current one (env README).
      if (/openblas/i.test(preload)) {
        delete env.OPENBLAS_CORETYPE;
        delete env.OPENBLAS_L2_SIZE;
      }
    }
    this.#child = spawn(python, [scriptPath()], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.#child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    this.#child.on('exit', (code) => {
      this.#exit = `python exited with ${code}: ${stderr.trim()}`;
      for (const resolve of this.#answers.splice(0)) resolve({ ok: false, error: this.#exit });
    });
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#answers.shift()?.({ ...(JSON.parse(line) as Answer) }));
  }

  /** Starts the baselines: plain PyTorch plus one per `--torch-preload` library; [] with a reason when torch is missing. */
  static async start(options: Record<string, string>, log: (line: string) => void): Promise<TorchBaseline[]> {
    const python = findTorchPython(options.python);
    if (!python) {
      log('pytorch baseline skipped: no python3 with torch (apt-get install python3-torch, or --python PATH)');
      return [];
    }
    const preloads = [undefined, ...(options['torch-preload']?.split(',').filter(Boolean) ?? [])];
    const started: TorchBaseline[] = [];
    for (const preload of preloads) {
      const baseline = new TorchBaseline(python, preload);
      const answer = await baseline.request({ op: 'info' });
      if (!answer.ok) {
        log(`${baseline.name} baseline skipped: ${answer.error}`);
        await baseline.close();
        continue;
      }
      baseline.info = answer as unknown as TorchInfo;
      const i = baseline.info;
      log(
        `${baseline.name}: torch ${i.torch}, ${i.threads} threads, BLAS ${i.blasInfo} → ${i.blasLibraries.join(', ') || 'none mapped'}, ${i.allocator}` +
          (i.openblasCoretype ? `, OPENBLAS_CORETYPE=${i.openblasCoretype}` : ''),
      );
      started.push(baseline);
    }
    return started;
  }

  request(body: Record<string, unknown>): Promise<Answer> {
    if (this.#exit) return Promise.resolve({ ok: false, error: this.#exit });
    return new Promise((resolve) => {
      this.#answers.push(resolve);
      this.#child.stdin.write(`${JSON.stringify(body)}\n`);
    });
  }

  /** Hands a host array to PyTorch under `name` (through a temporary file). */
  async load(name: string, data: Float32Array | Int32Array, shape: number[]): Promise<void> {
    this.#dir ??= await mkdtemp(join(tmpdir(), 'distillery-torch-'));
    const path = join(this.#dir, `${this.#files++}.bin`);
    await writeFile(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const answer = await this.request({ op: 'load', name, path, shape, dtype: data instanceof Int32Array ? 'i32' : 'f32' });
    await rm(path, { force: true });
    if (!answer.ok) throw new Error(answer.error);
  }

  async free(...names: string[]): Promise<void> {
    await this.request({ op: 'free', names });
  }

  /** One timed call; throws with PyTorch's error. */
  async time(body: Record<string, unknown>): Promise<Answer & { ms: number }> {
    const answer = await this.request(body);
    if (!answer.ok || typeof answer.ms !== 'number') throw new Error(answer.error ?? 'no time');
    return answer as Answer & { ms: number };
  }

  /** What a result row records about this baseline's setup. */
  describe(): Record<string, unknown> {
    return {
      torch: this.info.torch,
      threads: this.info.threads,
      blas: this.info.blasLibraries.map((p) => basename(p)).join(',') || this.info.blasInfo,
      allocator: this.info.allocator,
    };
  }

  async close(): Promise<void> {
    this.#child.stdin.end();
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}

// Browser-safe half (the page of `distillery-bench --browser` bundles the suites): see torch-run.ts.
export { interleaved, withTorch } from './torch-run.js';
