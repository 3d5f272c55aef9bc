/**
 * Node-only model files (`@distillery/nn/node`): safetensors checkpoints with the model's config
 * as JSON in `__metadata__`, written atomically.
 */
import { decodeSafetensors, DistilleryError, encodeSafetensors, isDistilleryError, type HostTensor, type ModelState } from '@distillery/core';
import { fileReadError, writeFileAtomic } from '@distillery/core/node';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { HuggingFaceLlama } from './models/llama/huggingface.js';
import { LLAMA_KIND } from './models/llama/config.js';
import { LlamaLm } from './models/llama/model.js';
import { MLP_KIND, MlpClassifier } from './models/mlp.js';
import { TRANSFORMER_KIND, TransformerLm } from './models/transformer.js';

/** `__metadata__` key holding the model config (JSON). */
export const MODEL_METADATA_KEY = 'distillery.model';
/** `__metadata__` key holding the CRC-32 of every tensor's bytes (JSON). */
export const CHECKSUM_METADATA_KEY = 'distillery.crc32';
export const MODEL_FORMAT = 'distillery-nn/1';

/** A model `saveModel` can write: it knows its state. */
export interface SavableModel {
  saveState(): Promise<ModelState>;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, as zlib.crc32) of a tensor's bytes. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function tensorBytes(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Encodes a model state as safetensors bytes (config and checksums in `__metadata__`). */
export function encodeModelState(state: ModelState): Uint8Array {
  const checksums: Record<string, number> = {};
  for (const [name, t] of Object.entries(state.tensors)) checksums[name] = crc32(tensorBytes(t));
  return encodeSafetensors({
    tensors: state.tensors,
    metadata: { format: MODEL_FORMAT, [MODEL_METADATA_KEY]: JSON.stringify(state.config), [CHECKSUM_METADATA_KEY]: JSON.stringify(checksums) },
  });
}

function corrupt(path: string, message: string, details: Record<string, unknown> = {}, cause?: unknown): DistilleryError {
  return new DistilleryError('E_CORRUPT_FILE', `${path}: ${message}`, { field: 'path', value: path, ...details }, cause === undefined ? undefined : { cause });
}

/** Decodes and verifies safetensors bytes written by `encodeModelState`. */
export function decodeModelState(bytes: Uint8Array, path = 'model'): ModelState {
  let content: ReturnType<typeof decodeSafetensors>;
  try {
    content = decodeSafetensors(bytes);
  } catch (error) {
    if (isDistilleryError(error, 'E_CORRUPT_FILE')) throw corrupt(path, error.message.replace(/^E_CORRUPT_FILE: /, ''), error.details, error);
    throw error;
  }
  const { tensors, metadata } = content;
  let config: unknown;
  try {
    config = JSON.parse(metadata[MODEL_METADATA_KEY] ?? '');
  } catch (error) {
    throw corrupt(path, `is a safetensors file without a valid model config (__metadata__["${MODEL_METADATA_KEY}"])`, {}, error);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw corrupt(path, 'model config in __metadata__ is not a JSON object');
  const checksumText = metadata[CHECKSUM_METADATA_KEY];
  if (checksumText !== undefined) {
    let checksums: Record<string, number>;
    try {
      checksums = JSON.parse(checksumText) as Record<string, number>;
    } catch (error) {
      throw corrupt(path, `__metadata__["${CHECKSUM_METADATA_KEY}"] is not valid JSON`, {}, error);
    }
    for (const [name, t] of Object.entries(tensors)) {
      const want = checksums[name];
      if (want === undefined) throw corrupt(path, `tensor ${name} has no checksum`, { tensor: name });
      const got = crc32(tensorBytes(t));
      if (got !== want) throw corrupt(path, `tensor ${name} fails its CRC-32 check (stored ${want}, computed ${got}): the file is damaged`, { tensor: name });
    }
    for (const name of Object.keys(checksums)) if (!tensors[name]) throw corrupt(path, `tensor ${name} is listed in the checksums but missing`, { tensor: name });
  }
  return { config: config as Record<string, unknown>, tensors };
}

/**
 * Writes `model` to `path` as safetensors (Python: `safetensors.torch.load_file(path)`; the config
 * is `json.loads(safe_open(path, 'pt').metadata()['distillery.model'])`). Atomic: a crash midway
 * leaves the previous file intact.
 */
export async function saveModel(path: string, model: SavableModel): Promise<void> {
  await writeFileAtomic(path, encodeModelState(await model.saveState()));
}

/** Reads the state saved by `saveModel` (E_NOT_FOUND, E_CORRUPT_FILE). */
export async function readModelState(path: string): Promise<ModelState> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new DistilleryError('E_NOT_FOUND', `model file ${path} does not exist`, { field: 'path', value: path }, { cause: error });
    throw fileReadError(error, path, 'path', 'model file') ?? error;
  }
  return decodeModelState(bytes, path);
}

export type LoadedModel = MlpClassifier | TransformerLm | LlamaLm;

/**
 * Loads a model saved by `saveModel` onto `device`. A truncated or damaged file is E_CORRUPT_FILE,
 * a file whose tensors do not fit its config E_CORRUPT_FILE, non-finite weights E_NON_FINITE.
 */
export async function loadModel(device: GPUDevice, path: string): Promise<LoadedModel> {
  const state = await readModelState(path);
  const kind = state.config.kind;
  try {
    if (kind === MLP_KIND) return await MlpClassifier.fromState(device, state);
    if (kind === TRANSFORMER_KIND) return await TransformerLm.fromState(device, state);
    if (kind === LLAMA_KIND) return await LlamaLm.fromState(device, state);
  } catch (error) {
    if (isDistilleryError(error, 'E_SHAPE_MISMATCH') || isDistilleryError(error, 'E_BAD_CONFIG')) {
      throw corrupt(path, `holds a model that does not match its own config: ${error.message}`, error.details, error);
    }
    if (isDistilleryError(error, 'E_NON_FINITE')) {
      throw new DistilleryError('E_NON_FINITE', `${path}: ${error.message.replace(/^E_NON_FINITE: /, '')}`, { ...error.details, path }, { cause: error });
    }
    throw error;
  }
  throw corrupt(path, `holds a model of unknown kind ${JSON.stringify(kind)} (known: ${MLP_KIND}, ${TRANSFORMER_KIND}, ${LLAMA_KIND})`, { value: kind });
}

/**
 * Writes a Hugging Face checkpoint (`LlamaLm.toHuggingFace()`) as the folder `dir`: the files go to
 * a fresh sibling folder first, which is renamed into place, so `dir` is either absent or complete.
 * An existing `dir` is refused (`E_BAD_VALUE`) unless `overwrite`.
 */
export async function writeHuggingFaceFolder(dir: string, files: HuggingFaceLlama, { overwrite = false }: { overwrite?: boolean } = {}): Promise<void> {
  const exists = await stat(dir).then(
    () => true,
    () => false,
  );
  if (exists && !overwrite) {
    throw new DistilleryError('E_BAD_VALUE', `${dir} exists; pass overwrite: true to replace it`, { field: 'dir', value: dir, expected: 'a path that does not exist yet' });
  }
  const temp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${Date.now()}`);
  await mkdir(temp, { recursive: true });
  try {
    for (const [name, data] of Object.entries(files)) await writeFileAtomic(join(temp, name), data as Uint8Array | string);
    if (exists) await rm(dir, { recursive: true, force: true });
    await rename(temp, dir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}
