/**
 * Node-only model files (`@distillery/nn/node`): safetensors checkpoints with the model's config
 * as JSON in `__metadata__`, written atomically.
 */
import { DistilleryError, isDistilleryError, type ModelState } from '@distillery/core';
import { fileReadError, writeFileAtomic } from '@distillery/core/node';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { HuggingFaceLlama } from './models/llama/huggingface.js';
import { LLAMA_KIND } from './models/llama/config.js';
import { LlamaLm } from './models/llama/model.js';
import { MLP_KIND, MlpClassifier } from './models/mlp.js';
import { TRANSFORMER_KIND, TransformerLm } from './models/transformer.js';
import { corrupt, decodeModelState, encodeModelState } from './model-file.js';

export { CHECKSUM_METADATA_KEY, crc32, decodeModelState, encodeModelState, MODEL_FORMAT, MODEL_METADATA_KEY } from './model-file.js';

/** A model `saveModel` can write: it knows its state. */
export interface SavableModel {
  saveState(): Promise<ModelState>;
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
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new DistilleryError('E_NOT_FOUND', `model file ${path} does not exist`, { field: 'path', value: path }, { cause: error });
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
      throw new DistilleryError(
        'E_NON_FINITE',
        `${path}: ${error.message.replace(/^E_NON_FINITE: /, '')}`,
        { ...error.details, path },
        { cause: error },
      );
    }
    throw error;
  }
  throw corrupt(path, `holds a model of unknown kind ${JSON.stringify(kind)} (known: ${MLP_KIND}, ${TRANSFORMER_KIND}, ${LLAMA_KIND})`, {
    value: kind,
  });
}

/**
 * Writes a Hugging Face checkpoint (`LlamaLm.toHuggingFace()`) as the folder `dir`: the files go to
 * a fresh sibling folder first, which is renamed into place, so `dir` is either absent or complete.
 * An existing `dir` is refused (`E_BAD_VALUE`) unless `overwrite`.
 */
export async function writeHuggingFaceFolder(
  dir: string,
  files: HuggingFaceLlama,
  { overwrite = false }: { overwrite?: boolean } = {},
): Promise<void> {
  const exists = await stat(dir).then(
    () => true,
    () => false,
  );
  if (exists && !overwrite) {
    throw new DistilleryError('E_BAD_VALUE', `${dir} exists; pass overwrite: true to replace it`, {
      field: 'dir',
      value: dir,
      expected: 'a path that does not exist yet',
    });
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
