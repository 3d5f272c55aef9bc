import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { badValue, definePlugin, DistilleryError, type PluginContext, type PluginSpec, type WhiteBoxTeacher } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import type { GpuTensor } from '@distillery/webgpu';
import {
  CachedTeacher,
  ModelTeacher,
  releaseBatch,
  uploadBatch,
  type CacheIndex,
  type ClassificationData,
  type TransferBatch,
} from '@distillery/white-box';
import { buildTeacherCache, readCacheIndex, TeacherCacheReader } from '@distillery/white-box/node';
import { z } from 'zod';
import type { CliIO } from '../command.js';
import { lockCacheBuild } from './cache-build-lock.js';
import { buildProgress, readCacheSource, ROWS_SOURCE_FORMAT, rowsWritten, SOURCE_FILE, START_OVER } from './cache-source.js';
import { createLmCacheTeacher, type LlamaCacheTeacherPart } from './cache-teacher-lm.js';
import { canonical } from './canonical-json.js';
import { inConfigDir } from './context.js';

/**
 * The `cache` teacher: a white-box teacher's targets stored once per training row (white-box's
 * offline cache), so the student trains without the teacher model in memory or its forward passes.
 */

/** What this plugin reads of the `distill` runner's context (the runner passes more). */
interface RunContext {
  device: GPUDevice;
  /** Relative paths resolve against the config file's folder. */
  configDir: string;
  io: CliIO;
  train?: ClassificationData;
}

const pluginSpec = z.union([z.string().min(1), z.looseObject({ name: z.string().min(1) })]);

export const cacheTeacherSchema = z
  .object({
    dir: z.string().min(1).describe('the cache folder, relative to the config file'),
    build: pluginSpec
      .optional()
      .describe('the teacher that fills the cache when `dir` holds no complete one (a teacher plugin spec); absent: the cache must exist'),
    kind: z
      .enum(['dense', 'topk'])
      .optional()
      .describe('what a build stores: every logit ("dense", default) or the top-k log-probabilities'),
    k: z.number().int().min(1).optional().describe('entries per row of a "topk" cache (fewer than the classes)'),
    engine: z
      .enum(['webgpu', 'llama-cpp'])
      .optional()
      .describe(
        'text data only: what runs the `build` GGUF over the training windows: WebGPU (default) or llama.cpp (@distillery/plugin-teacher-llama-cpp, CPU)',
      ),
    threads: z.number().int().min(1).optional().describe('text data with engine "llama-cpp": llama.cpp threads (default 1)'),
    rowsPerShard: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('rows per shard file of a build (default 4096); a killed build resumes after the last complete shard'),
  })
  .strict();

type CacheTeacherConfig = z.output<typeof cacheTeacherSchema>;

interface CacheSource {
  format: typeof ROWS_SOURCE_FORMAT;
  /** The training data the rows belong to: its shape and the SHA-256 of its features (row order included). */
  data: { rows: number; featureSize: number; classes: number; featuresSha256: string };
  /** The `build` teacher spec of the config that built it. */
  build: PluginSpec;
}

function dataFingerprint(data: ClassificationData): CacheSource['data'] {
  const { features } = data;
  const featuresSha256 = createHash('sha256')
    .update(new Uint8Array(features.buffer, features.byteOffset, features.byteLength))
    .digest('hex');
  return { rows: data.rows, featureSize: data.featureSize, classes: data.classes, featuresSha256 };
}

const readSource = (dir: string) =>
  readCacheSource<CacheSource>(dir, ROWS_SOURCE_FORMAT, (source) => typeof source.data?.featuresSha256 === 'string');

/** Refuses a cache whose recorded training data or build teacher is not this run's. */
function checkSource(dir: string, source: CacheSource, data: CacheSource['data'], build: PluginSpec | undefined): void {
  if (
    source.data.featuresSha256 !== data.featuresSha256 ||
    source.data.rows !== data.rows ||
    source.data.featureSize !== data.featureSize
  ) {
    throw new DistilleryError(
      'E_BAD_CONFIG',
      `teacher cache ${dir} was built from other training data (${source.data.rows} rows × ${source.data.featureSize} features, features sha256 ${source.data.featuresSha256.slice(0, 12)}…; this run's: ${data.rows} × ${data.featureSize}, ${data.featuresSha256.slice(0, 12)}…): ${START_OVER}`,
      { field: 'teacher.dir', value: dir, cached: source.data, data },
    );
  }
  if (build !== undefined && canonical(source.build) !== canonical(build)) {
    throw new DistilleryError(
      'E_BAD_CONFIG',
      `teacher cache ${dir} was built by teacher ${canonical(source.build)}, but teacher.build is ${canonical(build)}: ${START_OVER}`,
      { field: 'teacher.build', value: build, cached: source.build },
    );
  }
}

/** Checks what the cache's index says against the run's data and the config's `kind` / `k`. */
function checkIndex(dir: string, index: CacheIndex, data: ClassificationData, config: CacheTeacherConfig): void {
  if (index.rows !== data.rows)
    throw new DistilleryError(
      'E_SHAPE_MISMATCH',
      `teacher cache ${dir} holds ${index.rows} rows, but the training data has ${data.rows}: a cache answers for one transfer set, row by row; ${START_OVER}`,
      { field: 'teacher.dir', value: dir, rows: index.rows, expected: `${data.rows} rows (the training data)` },
    );
  if (index.vocab !== data.classes)
    throw new DistilleryError(
      'E_SHAPE_MISMATCH',
      `teacher cache ${dir} holds targets over ${index.vocab} classes, but the training data has ${data.classes}`,
      { field: 'teacher.dir', value: dir, vocab: index.vocab, expected: `${data.classes} classes (the training data)` },
    );
  if (index.kind === 'topk' && index.k! >= index.vocab)
    throw badValue(
      'teacher.dir',
      dir,
      `a top-k cache with k < ${index.vocab} classes (it has k = ${index.k}; use a dense cache for every class)`,
    );
  // With `build`, an absent kind means the default (dense); without, whatever the cache holds.
  const wanted = { kind: config.kind ?? (config.build ? 'dense' : undefined), k: config.k };
  for (const key of ['kind', 'k'] as const) {
    if (wanted[key] !== undefined && wanted[key] !== index[key])
      throw new DistilleryError(
        'E_BAD_CONFIG',
        `teacher cache ${dir} has ${key} = ${JSON.stringify(index[key])}, but teacher.${key} is ${JSON.stringify(wanted[key])}: ${START_OVER}`,
        { field: `teacher.${key}`, value: wanted[key], cached: index[key] },
      );
  }
}

/** Runs the `build` teacher over the training rows into `dir` (resuming a killed build), progress on stderr. */
async function build(
  context: RunContext,
  ctx: PluginContext,
  dir: string,
  data: ClassificationData,
  config: CacheTeacherConfig & { build: PluginSpec },
  partial: CacheIndex | undefined,
  /** Written once the teacher is known to fit, before the first shard. */
  source: CacheSource | undefined,
): Promise<void> {
  const kind = config.kind ?? 'dense';
  const resumeAt = partial ? rowsWritten(partial) : 0;
  // A resumed build keeps the shard size it started with unless the config says otherwise (the writer refuses a change).
  const rowsPerShard = config.rowsPerShard ?? partial?.rowsPerShard;
  const teacher = await ctx.registry.create<WhiteBoxTeacher<TransferBatch, GpuTensor>>('teacher', config.build, {
    path: 'teacher.build',
    context: ctx,
  });
  if (teacher.vocabSize !== data.classes)
    throw badValue(
      'teacher.build',
      teacher.name,
      `a teacher over the training data's ${data.classes} classes (it has ${teacher.vocabSize})`,
    );
  if (source) await writeFileAtomic(join(dir, SOURCE_FILE), `${JSON.stringify(source, null, 2)}\n`);
  const { io } = context;
  io.stderr(
    `teacher cache: ${resumeAt > 0 ? `resuming the build of ${dir} at row ${resumeAt}/${data.rows}` : `building ${dir}`} (${kind === 'topk' ? `top-${config.k}` : 'dense'}, teacher ${teacher.name})\n`,
  );
  let previous: TransferBatch | undefined;
  await buildTeacherCache({
    dir,
    teacher,
    rows: data.rows,
    kind,
    k: config.k,
    rowsPerShard,
    // The teacher sees inputs only; the previous batch is done with once the next one is asked for.
    batchOf: async (ids) => {
      if (previous) releaseBatch(previous);
      return (previous = uploadBatch(context.device, data, ids, false));
    },
    onProgress: buildProgress(io, 'rows'),
  });
  if (previous) releaseBatch(previous);
  releaseTeacher(teacher);
}

/** The build teacher's GPU buffers are not needed once its targets are on disk (the run reads the cache). */
function releaseTeacher(teacher: WhiteBoxTeacher<TransferBatch, GpuTensor>): void {
  if (teacher instanceof ModelTeacher) (teacher.model as { release?: () => void }).release?.();
}

export const cacheTeacherPlugin = definePlugin({
  kind: 'teacher',
  name: 'cache',
  description:
    "A teacher's targets stored once per training row (dense logits or top-k log-probabilities): built by `build` when `dir` holds no complete cache (resumable), then reused without loading the teacher.",
  configSchema: cacheTeacherSchema,
  create: async (config, ctx): Promise<WhiteBoxTeacher<TransferBatch, GpuTensor> | LlamaCacheTeacherPart> => {
    if ((ctx as { lm?: unknown }).lm) return createLmCacheTeacher(config, ctx);
    const context = ctx as unknown as Partial<RunContext>;
    for (const key of ['engine', 'threads'] as const)
      if (config[key] !== undefined)
        throw badValue(`teacher.${key}`, config[key], 'absent: it applies to text data (a language model) only');
    const data = context.train;
    if (!context.device || typeof context.configDir !== 'string' || !context.io || !data)
      throw new DistilleryError(
        'E_UNSUPPORTED',
        'the cache teacher runs inside `distillery distill` (it needs the device and the training data)',
        { field: 'context' },
      );
    if (!(data.features instanceof Float32Array))
      throw new DistilleryError(
        'E_UNSUPPORTED',
        'the cache teacher stores a classifier teacher over feature rows (data.train has no features)',
        {
          field: 'teacher',
          value: 'cache',
        },
      );
    const dir = inConfigDir(context as RunContext, config.dir);
    if (config.kind === 'topk' && config.k === undefined) throw badValue('teacher.k', undefined, 'the entries per row of a "topk" cache');
    if (config.k !== undefined && config.k >= data.classes)
      throw badValue(
        'teacher.k',
        config.k,
        `fewer than the training data's ${data.classes} classes (use kind "dense" to keep every class)`,
      );
    if (config.k !== undefined && config.kind !== 'topk') throw badValue('teacher.kind', config.kind ?? 'dense', '"topk" when k is set');

    const fingerprint = dataFingerprint(data);
    const [index, source] = [await readCacheIndex(dir), await readSource(dir)];
    // Shapes first (the plainest message), then what the cache was built from.
    if (index) checkIndex(dir, index, data, config);
    if (source) checkSource(dir, source, fingerprint, config.build as PluginSpec | undefined);
    const written = index ? rowsWritten(index) : 0;
    if (!index || written < index.rows) {
      if (!config.build)
        throw new DistilleryError(
          index ? 'E_CORRUPT_FILE' : 'E_NOT_FOUND',
          index
            ? `teacher cache ${dir} is incomplete (${written} of ${index.rows} rows): add \`teacher.build\` to finish it`
            : `no teacher cache at ${dir}: add \`teacher.build\` (a teacher spec) to build it, or point \`teacher.dir\` at a built cache`,
          { field: 'teacher.dir', value: dir },
        );
      const buildSpec = config.build as PluginSpec;
      const record: CacheSource | undefined = source ? undefined : { format: ROWS_SOURCE_FORMAT, data: fingerprint, build: buildSpec };
      const lock = await lockCacheBuild(dir);
      try {
        // Another builder may have finished (or progressed) while this one read the index.
        const current = await readCacheIndex(dir);
        if (!current || rowsWritten(current) < current.rows)
          await build(context as RunContext, ctx, dir, data, { ...config, build: buildSpec }, current, record);
      } finally {
        await lock.release();
      }
    } else {
      if (!source)
        context.io.stderr(`teacher cache: ${dir} has no ${SOURCE_FILE}, so its rows cannot be checked against the training data\n`);
      context.io.stderr(`teacher cache: using ${dir} (${index.kind === 'topk' ? `top-${index.k}` : 'dense'}, teacher ${index.teacher})\n`);
    }
    const reader = await TeacherCacheReader.open(dir);
    // An index rebuilt above is checked like a reused one (a build teacher with another vocabulary, say).
    checkIndex(dir, reader.index, data, config);
    return new CachedTeacher(reader, context.device);
  },
});
