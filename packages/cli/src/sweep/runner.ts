import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDistilleryError, type StepEvent } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import { TokenWindows, type TokenCorpus } from '@distillery/white-box';
import type { DistillLmSettings, StudentSize } from '../distill-lm/config.js';
import { readStories } from '../distill-lm/corpus.js';
import { vendored } from '../distill-lm/defaults.js';
import { evaluateHeldOut, type HeldOutMetrics } from '../distill-lm/evaluate.js';
import type { LmKit } from '../distill-lm/kit.js';
import { trainRun, type RunContext } from '../distill-lm/train-run.js';
import type { SweepMethod } from './config.js';
import { embeddingParams, nonEmbeddingParams, trainingFlops, type TeacherShape } from './params.js';
import type { SweepRole, SweepRun } from './runs-file.js';

/** The teacher, the data and the held-out evaluation every run of a sweep shares. */
export interface SweepSession {
  kit: LmKit;
  context: RunContext;
  teacher: TeacherShape & { params: number; name: string };
  teacherHeldOut: HeldOutMetrics;
  /** Labelled training positions per step: sequences × context × the transfer set's labelled fraction. */
  tokensPerStep: number;
  trainTokens: number;
  heldOutTokens: number;
}

function corpusHash(corpus: TokenCorpus): string {
  const h = createHash('sha256');
  for (const d of corpus.documents) h.update(new Uint8Array(Int32Array.from(d).buffer)).update('|');
  return h.digest('hex').slice(0, 16);
}

/**
 * Loads the teacher through distill-lm's kit, splits and tokenises the corpus as distill-lm does,
 * and evaluates the teacher once on the held-out windows (kept in `<out>/teacher.json`).
 */
export async function openSweepSession(
  base: DistillLmSettings,
  paths: { teacher?: string; corpus?: string; out: string },
  createKit: (teacherPath: string, context: number) => Promise<LmKit>,
  log: (line: string) => void,
): Promise<SweepSession> {
  const teacherPath = paths.teacher ?? vendored.teacher();
  const kit = await createKit(teacherPath, base.context);
  try {
    const stories = await readStories(paths.corpus ?? vendored.corpus(), base.corpus);
    const train: TokenCorpus = { documents: stories.train.map((t) => kit.encode(t)), vocab: kit.vocab };
    const heldOutCorpus: TokenCorpus = { documents: stories.heldOut.map((t) => kit.encode(t)), vocab: kit.vocab };
    const device = kit.teacher.device;
    const heldOut = new TokenWindows(device, heldOutCorpus, { context: base.context, sequences: base.evaluate.sequences, seed: 0 });
    const probe = new TokenWindows(device, train, { context: base.context, sequences: base.sequences, seed: 0 });
    const tokensPerStep = (base.sequences * probe.labelledTokens) / probe.windows;

    const file = join(paths.out, 'teacher.json');
    const key = JSON.stringify({ v: 1, teacher: kit.teacherName, held: corpusHash(heldOutCorpus), context: base.context });
    let saved = await readFile(file, 'utf8').then(
      (t) => JSON.parse(t) as { key: string; heldOut: HeldOutMetrics; argmax: string },
      () => undefined,
    );
    if (saved?.key !== key) {
      log(`teacher: evaluating ${kit.teacherName} on ${heldOut.labelledTokens} held-out tokens`);
      const { metrics, argmax } = await evaluateHeldOut(kit.teacher, heldOut, base.evaluate.sequences);
      saved = { key, heldOut: metrics, argmax: Buffer.from(argmax.buffer).toString('base64') };
      await writeFileAtomic(file, JSON.stringify(saved));
    }
    const bytes = Buffer.from(saved.argmax, 'base64');
    const teacherArgmax = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const f = kit.teacherFacts;
    const teacher = { name: kit.teacherName, vocab: kit.vocab, width: Number(f.width), ffn: Number(f.ffn), params: 0 };
    // The teacher's N, counted like the students' (its own size, embedding and head excluded).
    teacher.params = nonEmbeddingParams(
      {
        name: 'teacher',
        width: teacher.width,
        layers: Number(f.layers),
        heads: Number(f.heads),
        kvHeads: Number(f.kvHeads),
        ffn: teacher.ffn,
      },
      teacher,
    );
    return {
      kit,
      context: { kit, settings: base, train, heldOut, teacherArgmax },
      teacher,
      teacherHeldOut: saved.heldOut,
      tokensPerStep,
      trainTokens: train.documents.reduce((n, d) => n + d.length, 0),
      heldOutTokens: heldOut.labelledTokens,
    };
  } catch (error) {
    kit.dispose();
    throw error;
  }
}

export interface RunSpec {
  size: StudentSize;
  method: SweepMethod;
  steps: number;
  role: SweepRole;
}

export const runIdOf = (spec: Pick<RunSpec, 'method' | 'steps'> & { size: { name: string } }) =>
  `${spec.size.name}/${spec.method}/steps-${spec.steps}`;

/**
 * One sweep run through distill-lm's `trainRun` (its resume, read-back and evaluation), with the
 * run's own step count and a warm-up of at most a tenth of it. A non-finite training loss is
 * recorded as a failed run (NaN loss, the error) instead of stopping the sweep.
 */
export async function runSweepCell(
  session: SweepSession,
  spec: RunSpec,
  seed: number,
  out: string,
  onStep?: (e: StepEvent) => void,
  signal?: AbortSignal,
): Promise<{ run: SweepRun; fresh: boolean }> {
  const base = session.context.settings;
  const settings: DistillLmSettings = {
    ...base,
    steps: spec.steps,
    seeds: [seed],
    methods: [spec.method],
    optimizer: { ...base.optimizer, warmupSteps: Math.max(1, Math.min(base.optimizer.warmupSteps, Math.ceil(spec.steps / 10))) },
  };
  const dir = join(out, 'runs', spec.size.name, spec.method, `steps-${spec.steps}`, `seed-${seed}`);
  const before = await readFile(join(dir, 'result.json'), 'utf8').catch(() => undefined);
  const params = nonEmbeddingParams(spec.size, session.teacher);
  const tokens = spec.steps * session.tokensPerStep;
  const common = {
    id: runIdOf(spec),
    size: spec.size.name,
    method: spec.method,
    role: spec.role,
    steps: spec.steps,
    params,
    totalParams: params + embeddingParams(spec.size, session.teacher),
    tokens,
    flops: trainingFlops(params, tokens),
    teacherLoss: session.teacherHeldOut.nats,
  };
  try {
    const result = await trainRun({ ...session.context, settings }, spec.size, spec.method, seed, dir, onStep, signal);
    const fresh = before === undefined || JSON.parse(before).key !== result.key;
    if (result.parameters !== common.totalParams)
      throw new Error(`parameter count mismatch for ${common.id}: model ${result.parameters}, counted ${common.totalParams}`);
    return {
      run: { ...common, loss: result.heldOut.nats, agreement: result.heldOut.agreement ?? Number.NaN, seconds: result.seconds },
      fresh,
    };
  } catch (error) {
    if (isDistilleryError(error) && error.code === 'E_NON_FINITE')
      return { run: { ...common, loss: Number.NaN, agreement: Number.NaN, seconds: Number.NaN, error: error.message }, fresh: true };
    throw error;
  }
}
