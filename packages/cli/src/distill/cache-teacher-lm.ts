import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { badValue, DistilleryError, pluginName, type PluginContext, type PluginSpec } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import { TokenWindows, type TokenCorpus } from '@distillery/white-box';
import { readCacheIndex, TeacherCacheReader } from '@distillery/white-box/node';
import type { z } from 'zod';
import { vendored } from '../distill-lm/defaults.js';
import { readLlamaVocabulary, type LlamaVocabulary } from '../distill-lm/vocabulary.js';
import { buildWindowTopKCache, llamaCppTopK, webGpuTopK, WindowCacheTeacher, type WindowTopKSource } from '../lm/topk-cache.js';
import type { cacheTeacherSchema } from './cache-teacher.js';
import { lockCacheBuild } from './cache-build-lock.js';
import { buildProgress, readCacheSource, rowsWritten, SOURCE_FILE, START_OVER, WINDOWS_SOURCE_FORMAT } from './cache-source.js';
import { canonical } from './canonical-json.js';
import { distillContext, inConfigDir, type DistillContext } from './context.js';
import { isLlamaTeacher, type LmPluginContext } from './lm-plugins.js';

/*
 * The `cache` teacher on text data: DistillKit's offline top-k cache. The `build` teacher (a
 * "gguf") runs once over every training window — on llama.cpp (`engine: "llama-cpp"`, as
 * `distillery distill-lm`'s kd-topk-cache) or on WebGPU (the default) — and its top-k next-token
 * log-probabilities per position are stored; the student then trains from them, its batches
 * naming their windows.
 */

type CacheTeacherConfig = z.output<typeof cacheTeacherSchema>;

/** What the cache teacher yields for text data. */
export interface LlamaCacheTeacherPart {
  readonly kind: 'llama-cache-teacher';
  readonly name: string;
  readonly teacher: WindowCacheTeacher;
  readonly vocabulary: LlamaVocabulary;
}

export const isLlamaCacheTeacher = (part: unknown): part is LlamaCacheTeacherPart =>
  (part as { kind?: unknown })?.kind === 'llama-cache-teacher';

interface LmCacheSource {
  format: typeof WINDOWS_SOURCE_FORMAT;
  /** The training windows the rows belong to: their count, length and the SHA-256 of their tokens (window order). */
  windows: { count: number; context: number; vocab: number; tokensSha256: string };
  build: PluginSpec;
  engine: 'webgpu' | 'llama-cpp';
}

/** The tokens of every training window, padded, in window order: what the cache's rows stand for. */
function windowsFingerprint(windows: TokenWindows): LmCacheSource['windows'] {
  const { tokens } = windows.hostWindows(Array.from({ length: windows.windows }, (_, i) => i));
  const tokensSha256 = createHash('sha256')
    .update(new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength))
    .digest('hex');
  return { count: windows.windows, context: windows.context, vocab: windows.corpus.vocab, tokensSha256 };
}

const readLmSource = (dir: string) =>
  readCacheSource<LmCacheSource>(dir, WINDOWS_SOURCE_FORMAT, (source) => typeof source.windows?.tokensSha256 === 'string');

/** The GGUF a "gguf" build spec names (its tokenizer tokenises the corpus). */
function ggufPath(context: DistillContext, spec: PluginSpec, field: string): string {
  const name = pluginName(spec);
  if (name !== 'gguf') throw badValue(field, name, '"gguf" (a Llama GGUF teacher) for text data');
  const path = typeof spec === 'string' ? undefined : (spec as { path?: unknown }).path;
  if (path === undefined) return vendored.teacher();
  if (typeof path !== 'string') throw badValue(`${field}.path`, path, 'a GGUF file path');
  return inConfigDir(context, path);
}

export async function createLmCacheTeacher(config: CacheTeacherConfig, ctx: PluginContext): Promise<LlamaCacheTeacherPart> {
  const context = distillContext(ctx) as DistillContext & PluginContext & { lm: LmPluginContext };
  const { lm } = context;
  if (config.kind === 'dense')
    throw badValue('teacher.kind', 'dense', '"topk" for text data (a top-k cache of next-token log-probabilities)');
  if (config.k === undefined) throw badValue('teacher.k', undefined, 'the entries per position of the top-k cache (e.g. 32)');
  if (config.rowsPerShard !== undefined)
    throw badValue('teacher.rowsPerShard', config.rowsPerShard, 'absent for text data (a shard holds 64 windows)');
  if (config.threads !== undefined && config.engine !== 'llama-cpp')
    throw badValue('teacher.threads', config.threads, 'absent unless engine is "llama-cpp"');
  const dir = inConfigDir(context, config.dir);
  const source = await readLmSource(dir);
  const build = (config.build as PluginSpec | undefined) ?? source?.build;
  if (build === undefined)
    throw new DistilleryError(
      'E_NOT_FOUND',
      `no text teacher cache at ${dir}: add \`teacher.build\` (a "gguf" teacher spec) to build it, or point \`teacher.dir\` at a built cache`,
      { field: 'teacher.dir', value: dir },
    );
  const engine = config.engine ?? 'webgpu';
  const path = ggufPath(context, build, config.build ? 'teacher.build' : `teacher.dir (${SOURCE_FILE} build)`);
  const vocabulary = await readLlamaVocabulary(path);
  if (lm.tokens > vocabulary.settings.context)
    throw badValue('training.context', lm.tokens, `at most the teacher's context (${vocabulary.settings.context}, ${path})`);
  if (config.k >= vocabulary.settings.vocab)
    throw badValue('teacher.k', config.k, `fewer than the vocabulary's ${vocabulary.settings.vocab} tokens`);
  const corpus: TokenCorpus = {
    documents: lm.documents.map((d) => vocabulary.tokenizer.encode(d, { addBos: true })),
    vocab: vocabulary.settings.vocab,
  };
  const windows = new TokenWindows(context.device, corpus, { context: lm.tokens, sequences: 1, seed: 0 });
  const fingerprint = windowsFingerprint(windows);
  if (source) {
    const w = source.windows;
    if (w.tokensSha256 !== fingerprint.tokensSha256 || w.context !== fingerprint.context || w.count !== fingerprint.count)
      throw new DistilleryError(
        'E_BAD_CONFIG',
        `teacher cache ${dir} was built from other training windows (${w.count} windows of ${w.context} tokens, sha256 ${w.tokensSha256.slice(0, 12)}…; this run's: ${fingerprint.count} of ${fingerprint.context}, ${fingerprint.tokensSha256.slice(0, 12)}…): ${START_OVER}`,
        { field: 'teacher.dir', value: dir, cached: w, windows: fingerprint },
      );
    if (config.build !== undefined && (canonical(source.build) !== canonical(config.build) || source.engine !== engine))
      throw new DistilleryError(
        'E_BAD_CONFIG',
        `teacher cache ${dir} was built by ${canonical(source.build)} on ${source.engine}, but teacher.build is ${canonical(config.build)} on ${engine}: ${START_OVER}`,
        { field: 'teacher.build', value: config.build, cached: { build: source.build, engine: source.engine } },
      );
  }
  const index = await readCacheIndex(dir);
  if (index && (index.kind !== 'topk' || index.k !== config.k))
    throw new DistilleryError(
      'E_BAD_CONFIG',
      `teacher cache ${dir} holds ${index.kind === 'topk' ? `top-${index.k}` : index.kind} rows, but teacher.k is ${config.k}: ${START_OVER}`,
      { field: 'teacher.k', value: config.k, cached: { kind: index.kind, k: index.k } },
    );
  const written = index ? rowsWritten(index) : 0;
  if (!index || written < index.rows) {
    if (!source) {
      const record: LmCacheSource = { format: WINDOWS_SOURCE_FORMAT, windows: fingerprint, build, engine };
      await writeFileAtomic(join(dir, SOURCE_FILE), `${JSON.stringify(record, null, 2)}\n`);
    }
    const { io } = context;
    io.stderr(
      `teacher cache: ${written > 0 ? `resuming the build of ${dir} at window ${written / lm.tokens}/${windows.windows}` : `building ${dir}`} (top-${config.k} over ${windows.windows} windows of ${lm.tokens} tokens, ${path} on ${engine === 'llama-cpp' ? `llama.cpp, ${config.threads ?? 1} thread(s)` : 'WebGPU'})\n`,
    );
    const open = async (): Promise<WindowTopKSource> => {
      if (engine === 'llama-cpp') return llamaCppTopK(path, config.threads ?? 1, lm.tokens, 'teacher.engine');
      const part = await ctx.registry.create<unknown>('teacher', build, { path: 'teacher.build', context: ctx });
      if (!isLlamaTeacher(part)) throw badValue('teacher.build', canonical(build), 'a "gguf" teacher');
      const source = webGpuTopK(part.model);
      return { ...source, dispose: async () => part.model.release() };
    };
    const lock = await lockCacheBuild(dir);
    const built = await buildWindowTopKCache({
      dir,
      windows,
      k: config.k,
      teacher: `${path
        .split(/[\\/]/)
        .pop()!
        .replace(/\.gguf$/i, '')}:top${config.k}:ctx${lm.tokens}`,
      open,
      field: 'teacher.build',
      onProgress: buildProgress(io, 'windows'),
    }).finally(() => lock.release());
    io.stderr(`teacher cache: built in ${built.seconds.toFixed(1)} s (${built.tokens} positions)\n`);
  } else {
    if (!source)
      context.io.stderr(`teacher cache: ${dir} has no ${SOURCE_FILE}, so its rows cannot be checked against the training windows\n`);
    context.io.stderr(`teacher cache: using ${dir} (top-${index.k}, teacher ${index.teacher})\n`);
  }
  const reader = await TeacherCacheReader.open(dir);
  if (reader.index.rows !== windows.windows * lm.tokens || reader.index.vocab !== corpus.vocab)
    throw new DistilleryError(
      'E_SHAPE_MISMATCH',
      `teacher cache ${dir} holds ${reader.index.rows} rows over ${reader.index.vocab} tokens, but the training windows need ${windows.windows * lm.tokens} over ${corpus.vocab}: ${START_OVER}`,
      { field: 'teacher.dir', value: dir },
    );
  const teacher = new WindowCacheTeacher(reader, context.device, lm.tokens);
  return { kind: 'llama-cache-teacher', name: teacher.name, teacher, vocabulary };
}
