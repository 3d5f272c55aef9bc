/**
 * Node-only helpers (file system). Import from `@distillery/core/node`; the main entry stays
 * browser-safe.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CheckpointStore, TrainingCheckpoint } from './checkpoint.js';
import type { HostTensor } from './contracts/tensor.js';
import { DistilleryError } from './errors.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

/**
 * Writes `data` to `path` so that readers see either the old file or the new one, never a mix:
 * write a sibling temp file, fsync it, rename it over the target, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
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
  await rename(temp, path);
  try {
    const dir = await open(dirname(path), 'r');
    await dir.sync().finally(() => dir.close());
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  }
}

/**
 * A checkpoint as one safetensors file: tensors under `student/…`, `optimizer/…` and (with a
 * hidden-state loss) `hidden-loss/…`, the rest as
 * JSON in `__metadata__.distillery`. Python can open it with `safetensors.safe_open`.
 */
export class FileCheckpointStore implements CheckpointStore {
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
    await writeFileAtomic(this.path, encodeSafetensors({ tensors, metadata: { distillery: JSON.stringify(meta) } }));
  }

  async load(): Promise<TrainingCheckpoint | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const { tensors, metadata } = decodeSafetensors(bytes);
    let meta: {
      format?: string; step: number; epoch: number; batchIndex: number; studentConfig: Record<string, unknown>;
      optimizer: { step: number; config: Record<string, unknown> }; extra: Record<string, unknown>;
      progress?: TrainingCheckpoint['progress'];
      callbacks?: TrainingCheckpoint['callbacks'];
    };
    try {
      meta = JSON.parse(metadata.distillery ?? '');
    } catch {
      throw new DistilleryError('E_CORRUPT_FILE', `${this.path} is a safetensors file but not a Distillery checkpoint (no valid __metadata__.distillery)`, { field: 'path', value: this.path });
    }
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

export { decodeSafetensors, encodeSafetensors };
