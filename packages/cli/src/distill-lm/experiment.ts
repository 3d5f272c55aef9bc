import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { StepEvent } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import { TokenWindows, type TokenCorpus } from '@distillery/white-box';
import { TeacherCacheReader } from '@distillery/white-box/node';
import type { DistillLmMethod, DistillLmSettings, StudentSize } from './config.js';
import { readStories } from './corpus.js';
import { vendored } from './defaults.js';
import { evaluateHeldOut, greedySample, type HeldOutMetrics } from './evaluate.js';
import { formatReportMarkdown } from './report.js';
import { exportStudent, type ExportResult } from './export.js';
import type { LmKit } from './kit.js';
import { buildWindowTopKCache, llamaCppTopK, WindowCacheTeacher } from '../lm/topk-cache.js';
import { loadRunStudent, trainRun, type RunContext, type RunResult } from './train-run.js';

export interface Spread {
  mean: number;
  /** Sample standard deviation over seeds (0 for one seed). */
  std: number;
  values: number[];
}

function spread(values: readonly number[]): Spread {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, values: [...values] };
}

export interface MethodSummary {
  size: string;
  method: DistillLmMethod;
  parameters: number;
  seeds: number[];
  nats: Spread;
  agreement: Spread;
  seconds: Spread;
  tokensPerSecond: Spread;
  /** The first seed's sample. */
  sample: string;
}

export interface DistillLmReport {
  adapter: string;
  quick: boolean;
  teacher: { file: string; name: string; facts: Record<string, number | string>; heldOut: HeldOutMetrics; sample: string };
  corpus: {
    file: string;
    stories: number;
    trainStories: number;
    heldOutStories: number;
    trainTokens: number;
    heldOutTokens: number;
    note: string;
  };
  settings: DistillLmSettings;
  cache?: { dir: string; k: number; rows: number; seconds: number; tokensPerSecond?: number };
  runs: RunResult[];
  summary: MethodSummary[];
  exports: ExportResult[];
  /** The folder everything was written to. */
  output: string;
  files: string[];
}

export interface ExperimentOptions {
  settings: DistillLmSettings;
  /** Folder relative paths of the config are resolved against. */
  baseDir: string;
  /** Output folder (default: `settings.output` relative to `baseDir`). */
  out?: string;
  quick?: boolean;
  adapter: string;
  /** Loads the teacher GGUF and builds the kit on the caller's device. */
  createKit: (teacherPath: string, context: number) => Promise<LmKit>;
  onStep?: (run: { size: string; method: DistillLmMethod; seed: number }, e: StepEvent) => void;
  onRun?: (result: RunResult, fresh: boolean) => void;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

const at = (base: string, path: string) => (isAbsolute(path) ? path : resolve(base, path));

/**
 * Where distill-lm and sweep write: `out`, else the config's `output` — with `-quick` appended for a
 * `--quick` run, so a smoke run never mixes its runs into the real run's folder (a later full run
 * would resume from the smoke run's checkpoints) nor overwrites its files (examples/tinystories/sweep
 * holds committed results).
 */
export function outputDirOf(baseDir: string, output: string, o: { out?: string; quick?: boolean } = {}): string {
  if (o.out !== undefined) return at(baseDir, o.out);
  return at(baseDir, o.quick ? `${output.replace(/[/\\]+$/, '')}-quick` : output);
}

const HELD_OUT_NOTE =
  'stories260K was pre-trained on TinyStories, so the held-out stories are text the teacher has seen; they are held out from the students only.';

function hashOf(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('|');
  return h.digest('hex').slice(0, 16);
}

function corpusHash(corpus: TokenCorpus): string {
  const h = createHash('sha256');
  for (const d of corpus.documents) h.update(new Uint8Array(Int32Array.from(d).buffer)).update('|');
  return h.digest('hex').slice(0, 16);
}

/**
 * The TinyStories comparison: for each student size, method and seed a run of exactly `steps`
 * steps, evaluated on the held-out stories (nats/token, agreement with the teacher's arg-max), the
 * teacher's own figures on the same text for reference, the chosen students exported as GGUF and
 * Hugging Face files, and results.json + results.md in the output folder.
 */
export async function runDistillLm(o: ExperimentOptions): Promise<DistillLmReport> {
  const s = o.settings;
  const log = o.log ?? (() => {});
  const out = outputDirOf(o.baseDir, s.output, o);
  const teacherPath = s.teacher ? at(o.baseDir, s.teacher) : vendored.teacher();
  const corpusPath = s.corpus.path ? at(o.baseDir, s.corpus.path) : vendored.corpus();
  const kit = await o.createKit(teacherPath, s.context);
  try {
    const stories = await readStories(corpusPath, s.corpus);
    const train: TokenCorpus = { documents: stories.train.map((t) => kit.encode(t)), vocab: kit.vocab };
    const heldOutCorpus: TokenCorpus = { documents: stories.heldOut.map((t) => kit.encode(t)), vocab: kit.vocab };
    const device = kit.teacher.device;
    const heldOut = new TokenWindows(device, heldOutCorpus, { context: s.context, sequences: s.evaluate.sequences, seed: 0 });
    const teacherBytes = new Uint8Array(await readFile(teacherPath));
    const teacherHash = hashOf(teacherBytes);
    const trainHash = corpusHash(train);
    const heldHash = corpusHash(heldOutCorpus);

    // The teacher's figures and arg-max on the held-out text, computed once and kept.
    const teacherFile = join(out, 'teacher.json');
    const teacherKey = JSON.stringify({
      v: 1,
      teacherHash,
      heldHash,
      context: s.context,
      prompt: s.evaluate.prompt,
      sampleTokens: s.evaluate.sampleTokens,
    });
    let teacherEval = await readFile(teacherFile, 'utf8').then(
      (t) => JSON.parse(t) as { key: string; heldOut: HeldOutMetrics; argmax: string; sample: string },
      () => undefined,
    );
    if (teacherEval?.key !== teacherKey) {
      log(`teacher: evaluating ${kit.teacherName} on ${heldOut.labelledTokens} held-out tokens`);
      const { metrics, argmax } = await evaluateHeldOut(kit.teacher, heldOut, s.evaluate.sequences);
      const prompt = kit.encode(s.evaluate.prompt);
      const sample = kit.decode([...prompt, ...(await greedySample(kit.teacher, prompt, s.evaluate.sampleTokens, kit.eos))]);
      teacherEval = { key: teacherKey, heldOut: metrics, argmax: Buffer.from(argmax.buffer).toString('base64'), sample };
      await writeFileAtomic(teacherFile, JSON.stringify(teacherEval));
    }
    const argmaxBytes = Buffer.from(teacherEval.argmax, 'base64');
    const teacherArgmax = new Int32Array(argmaxBytes.buffer, argmaxBytes.byteOffset, argmaxBytes.byteLength / 4);
    log(`teacher ${kit.teacherName}: ${teacherEval.heldOut.nats.toFixed(4)} nats/token on ${teacherEval.heldOut.tokens} held-out tokens`);

    let cache: DistillLmReport['cache'];
    let cacheTeacher: WindowCacheTeacher | undefined;
    const topkTeacher = async () => {
      if (!cacheTeacher) {
        const dir = join(out, 'cache', `topk-k${s.topk.k}-ctx${s.context}-${hashOf(teacherHash, trainHash)}`);
        const windows = new TokenWindows(device, train, { context: s.context, sequences: 1, seed: 0 });
        log(
          `top-k cache: llama.cpp over ${windows.windows} training windows (${windows.labelledTokens} tokens), k = ${s.topk.k}, ${s.topk.threads} thread(s) → ${dir}`,
        );
        const built = await buildWindowTopKCache({
          dir,
          open: () => llamaCppTopK(teacherPath, s.topk.threads, s.context, 'methods'),
          field: 'teacher',
          windows,
          k: s.topk.k,
          teacher: `${kit.teacherName}:top${s.topk.k}:ctx${s.context}:${trainHash}`,
        });
        const reader = await TeacherCacheReader.open(dir);
        const infoFile = join(dir, 'build.json');
        if (built.built) await writeFileAtomic(infoFile, JSON.stringify({ seconds: built.seconds, tokens: built.tokens }));
        const info = await readFile(infoFile, 'utf8').then(
          (t) => JSON.parse(t) as { seconds: number; tokens: number },
          () => ({ seconds: Number.NaN, tokens: 0 }),
        );
        cache = { dir, k: s.topk.k, rows: reader.index.rows, seconds: info.seconds, tokensPerSecond: info.tokens / info.seconds };
        log(`top-k cache: ${built.built ? `built in ${built.seconds.toFixed(1)} s` : 'read back'}`);
        cacheTeacher = new WindowCacheTeacher(reader, device, s.context);
      }
      return cacheTeacher;
    };

    const context: RunContext = { kit, settings: s, train, heldOut, teacherArgmax, topkTeacher };
    const runs: RunResult[] = [];
    const dirOf = (size: StudentSize, method: DistillLmMethod, seed: number) => join(out, 'runs', size.name, method, `seed-${seed}`);
    // Seed-major order: after the first seed every size and method has one run to compare.
    for (const seed of s.seeds) {
      for (const size of s.students) {
        for (const method of s.methods) {
          const dir = dirOf(size, method, seed);
          const before = await readFile(join(dir, 'result.json'), 'utf8').catch(() => undefined);
          const result = await trainRun(
            context,
            size,
            method,
            seed,
            dir,
            (e) => o.onStep?.({ size: size.name, method, seed }, e),
            o.signal,
          );
          const fresh =
            before === undefined || JSON.parse(before).key !== result.key || JSON.stringify(JSON.parse(before)) !== JSON.stringify(result);
          // A run trained again makes its old exports stale.
          if (fresh) await Promise.all(['student.gguf', 'hf'].map((f) => rm(join(dir, f), { recursive: true, force: true })));
          runs.push(result);
          o.onRun?.(result, fresh);
        }
      }
    }

    // Runs read back never opened the cache: open it for the report (a complete cache is not rebuilt).
    if (s.methods.includes('kd-topk-cache') && !cache) await topkTeacher();

    const summary: MethodSummary[] = [];
    for (const size of s.students) {
      for (const method of s.methods) {
        const group = runs.filter((r) => r.size === size.name && r.method === method);
        summary.push({
          size: size.name,
          method,
          parameters: group[0]!.parameters,
          seeds: group.map((r) => r.seed),
          nats: spread(group.map((r) => r.heldOut.nats)),
          agreement: spread(group.map((r) => r.heldOut.agreement ?? Number.NaN)),
          seconds: spread(group.map((r) => r.seconds)),
          tokensPerSecond: spread(group.map((r) => r.tokensPerSecond).filter(Number.isFinite)),
          sample: group[0]!.sample,
        });
      }
    }

    const exports: ExportResult[] = [];
    if (s.export.which !== 'none') {
      const chosen =
        s.export.which === 'all'
          ? runs
          : s.students.map((size) => runs.filter((r) => r.size === size.name).reduce((a, b) => (b.heldOut.nats < a.heldOut.nats ? b : a)));
      for (const run of chosen) {
        const dir = dirOf(
          s.students.find((x) => x.name === run.size)!,
          run.method,
          run.seed,
        );
        const student = await loadRunStudent(kit, dir);
        try {
          exports.push(
            await exportStudent({
              kit,
              student,
              dir,
              run,
              heldOut,
              verify: s.export.verify,
              prompt: s.evaluate.prompt,
              sampleTokens: s.evaluate.sampleTokens,
              log,
            }),
          );
        } finally {
          student.release();
        }
      }
    }

    const report: DistillLmReport = {
      adapter: o.adapter,
      quick: o.quick ?? false,
      teacher: {
        file: teacherPath,
        name: kit.teacherName,
        facts: kit.teacherFacts,
        heldOut: teacherEval.heldOut,
        sample: teacherEval.sample,
      },
      corpus: {
        file: corpusPath,
        stories: stories.total,
        trainStories: stories.train.length,
        heldOutStories: stories.heldOut.length,
        trainTokens: train.documents.reduce((n, d) => n + d.length, 0),
        heldOutTokens: heldOut.labelledTokens,
        note: HELD_OUT_NOTE,
      },
      settings: s,
      ...(cache ? { cache } : {}),
      runs,
      summary,
      exports,
      output: out,
      files: ['results.json', 'results.md', 'teacher.json'],
    };
    await writeFileAtomic(join(out, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeFileAtomic(join(out, 'results.md'), formatReportMarkdown(report));
    cacheTeacher?.release();
    return report;
  } finally {
    kit.dispose();
  }
}
