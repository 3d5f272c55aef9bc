/**
 * Node-only helpers (file system). Import from `@distillery/core/node`; the main entry stays
 * browser-safe.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CheckpointStore, TrainingCheckpoint } from './checkpoint.js';
import type { HostTensor } from './contracts/tensor.js';
import { CHECKSUM_METADATA_KEY, checksumsFor, removeStaleTempFiles, verifyCheckpoint } from './checkpoint-integrity.js';
import { DistilleryError, isDistilleryError } from './errors.js';
import { fileReadError } from './file-errors.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsContent } from './safetensors.js';

/**
 * Writes `data` to `path` so that readers see either the old file or the new one, never a mix:
 * write a sibling temp file, fsync it, rename it over the target, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new DistilleryError(
        'E_BAD_VALUE',
        `cannot write ${path}: a parent of it is a file, not a folder`,
        { field: 'path', value: path, expected: 'a path whose parents are folders' },
        { cause: error },
      );
    }
    throw error;
  }
  const temp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
      throw new DistilleryError(
        'E_BAD_VALUE',
        `cannot write ${path}: it is a directory (or a path through a file); name a file`,
        { field: 'path', value: path, expected: 'a file path' },
        { cause: error },
      );
    }
    throw error;
  }
  try {
    const dir = await open(dirname(path), 'r');
    await dir.sync().finally(() => dir.close());
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  }
}

/** What the last `FileCheckpointStore.load` found out about the file's integrity. */
export type CheckpointVerification = 'verified' | 'no-checksums' | 'none';

/**
 * A checkpoint as one safetensors file: tensors under `student/…`, `optimizer/…` and (with a
 * hidden-state loss) `hidden-loss/…`, the rest as
 * JSON in `__metadata__.distillery`. Python can open it with `safetensors.safe_open`.
 *
 * Every save adds a SHA-256 per tensor and one over the JSON state (`__metadata__.distillery_checksums`);
 * `load` checks them all and throws E_CORRUPT_FILE naming the file and the tensor (or `state`) that
 * fails. A checkpoint written before checksums existed still loads: `verification` is then
 * `'no-checksums'` and a one-time process warning (`DISTILLERY_UNVERIFIED_CHECKPOINT`) says so; the
 * next save writes checksums. Each save also removes temp files that interrupted saves left behind.
 */
export class FileCheckpointStore implements CheckpointStore {
  /** Result of the last `load`: `verified`, `no-checksums` (a legacy file, loaded unverified) or `none` (nothing loaded). */
  verification: CheckpointVerification = 'none';

  constructor(readonly path: string) {}

  async save(checkpoint: TrainingCheckpoint): Promise<void> {
    const tensors: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(checkpoint.student.tensors)) tensors[`student/${name}`] = t;
    for (const [name, t] of Object.entries(checkpoint.optimizer.tensors)) tensors[`optimizer/${name}`] = t;
    for (const [name, t] of Object.entries(checkpoint.hiddenLoss ?? {})) tensors[`hidden-loss/${name}`] = t;
    const meta = {
      format: 'distillery-checkpoint/1',
      step: checkpoint.step,
      epoch: checkpoint.epoch,
      batchIndex: checkpoint.batchIndex,
      studentConfig: checkpoint.student.config,
      optimizer: { step: checkpoint.optimizer.step, config: checkpoint.optimizer.config },
      extra: checkpoint.extra,
      ...(checkpoint.progress ? { progress: checkpoint.progress } : {}),
      ...(checkpoint.callbacks ? { callbacks: checkpoint.callbacks } : {}),
    };
    const state = JSON.stringify(meta);
    const checksums = JSON.stringify(checksumsFor(tensors, state));
    await removeStaleTempFiles(this.path);
    await writeFileAtomic(this.path, encodeSafetensors({ tensors, metadata: { distillery: state, [CHECKSUM_METADATA_KEY]: checksums } }));
  }

  async load(): Promise<TrainingCheckpoint | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fileReadError(error, this.path, 'checkpoint', 'checkpoint file') ?? error;
    }
    this.verification = 'none';
    let content: SafetensorsContent;
    try {
      content = decodeSafetensors(bytes);
    } catch (error) {
      if (!isDistilleryError(error, 'E_CORRUPT_FILE')) throw error;
      throw new DistilleryError(
        'E_CORRUPT_FILE',
        `checkpoint ${this.path} is corrupt (${bytes.byteLength} bytes): ${error.message.replace(/^E_CORRUPT_FILE: /, '')}`,
        { ...error.details, field: (error.details.field as string | undefined) ?? 'file', file: this.path, value: this.path },
        { cause: error },
      );
    }
    const { tensors, metadata } = content;
    const verified = verifyCheckpoint(this.path, tensors, metadata);
    let meta: {
      format?: string;
      step: number;
      epoch: number;
      batchIndex: number;
      studentConfig: Record<string, unknown>;
      optimizer: { step: number; config: Record<string, unknown> };
      extra: Record<string, unknown>;
      progress?: TrainingCheckpoint['progress'];
      callbacks?: TrainingCheckpoint['callbacks'];
    };
    try {
      meta = JSON.parse(metadata.distillery ?? '');
    } catch {
      throw new DistilleryError(
        'E_CORRUPT_FILE',
        `${this.path} is a safetensors file but not a Distillery checkpoint (no valid __metadata__.distillery)`,
        { field: 'path', value: this.path, file: this.path },
      );
    }
    if (!verified) warnUnverified(this.path);
    this.verification = verified ? 'verified' : 'no-checksums';
    const student: Record<string, HostTensor> = {};
    const optimizer: Record<string, HostTensor> = {};
    const hiddenLoss: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(tensors)) {
      if (name.startsWith('student/')) student[name.slice(8)] = t;
      else if (name.startsWith('optimizer/')) optimizer[name.slice(10)] = t;
      else if (name.startsWith('hidden-loss/')) hiddenLoss[name.slice(12)] = t;
    }
    return {
      step: meta.step,
      epoch: meta.epoch,
      batchIndex: meta.batchIndex,
      student: { config: meta.studentConfig, tensors: student },
      optimizer: { step: meta.optimizer.step, config: meta.optimizer.config, tensors: optimizer },
      extra: meta.extra,
      ...(meta.progress ? { progress: meta.progress } : {}),
      ...(meta.callbacks ? { callbacks: meta.callbacks } : {}),
      ...(Object.keys(hiddenLoss).length ? { hiddenLoss } : {}),
    };
  }
}

const warnedUnverified = new Set<string>();

function warnUnverified(path: string): void {
  if (warnedUnverified.has(path)) return;
  warnedUnverified.add(path);
  process.emitWarning(
    `checkpoint ${path} has no checksums (written before Distillery checked them); it was loaded unverified and the next save adds them`,
    { code: 'DISTILLERY_UNVERIFIED_CHECKPOINT' },
  );
}

export { decodeSafetensors, encodeSafetensors };
export { removeStaleTempFiles, verifyCheckpoint, checksumsFor, CHECKSUM_METADATA_KEY } from './checkpoint-integrity.js';
export { fileReadError, readUserFile, requireNotDirectory } from './file-errors.js';
