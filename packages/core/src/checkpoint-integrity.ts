/**
 * Checksums that make a checkpoint prove its own integrity (Node only: uses node:crypto).
 *
 * A checkpoint holds one SHA-256 per tensor (over its dtype, shape and raw bytes) plus one over the
 * JSON state, in `__metadata__.distillery_checksums`. A single flipped bit anywhere — a weight's
 * mantissa, an Adam moment, the step counter — changes a digest, and `load` names the tensor (or
 * `state`) that no longer matches instead of resuming a silently different run. Per-tensor digests
 * (rather than one over the file) are what let the error name the damaged part.
 */
import { createHash } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { HostTensor } from './contracts/tensor.js';
import { DistilleryError } from './errors.js';

export const CHECKSUM_METADATA_KEY = 'distillery_checksums';
export const CHECKSUM_FORMAT = 'distillery-checksums/1';

export interface CheckpointChecksums {
  format: typeof CHECKSUM_FORMAT;
  algorithm: 'sha256';
  /** Digest of the JSON state string stored in `__metadata__.distillery`. */
  state: string;
  /** Digest per tensor name (every tensor in the file, no more, no less). */
  tensors: Record<string, string>;
}

export function tensorDigest(tensor: HostTensor): string {
  const hash = createHash('sha256');
  hash.update(`${tensor.dtype}[${tensor.shape.join(',')}]`);
  hash.update(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  return hash.digest('hex');
}

export function stateDigest(state: string): string {
  return createHash('sha256').update(state, 'utf8').digest('hex');
}

export function checksumsFor(tensors: Record<string, HostTensor>, state: string): CheckpointChecksums {
  const digests: Record<string, string> = {};
  for (const name of Object.keys(tensors).sort()) digests[name] = tensorDigest(tensors[name]!);
  return { format: CHECKSUM_FORMAT, algorithm: 'sha256', state: stateDigest(state), tensors: digests };
}

function mismatch(path: string, part: string, what: string): DistilleryError {
  return new DistilleryError('E_CORRUPT_FILE', `checkpoint ${path} is corrupt: ${what}`, {
    field: part,
    file: path,
    value: path,
    failed: part,
  });
}

/**
 * Throws E_CORRUPT_FILE naming the file and the first part that fails: `state`, a tensor name, or
 * `checksums` (the checksum record itself is unreadable). Returns false when the file has no
 * checksums at all (written before they existed); the caller decides how loud to be about that.
 */
export function verifyCheckpoint(path: string, tensors: Record<string, HostTensor>, metadata: Record<string, string>): boolean {
  const raw = metadata[CHECKSUM_METADATA_KEY];
  if (raw === undefined) return false;
  let sums: CheckpointChecksums;
  try {
    sums = JSON.parse(raw) as CheckpointChecksums;
  } catch {
    throw mismatch(path, 'checksums', `__metadata__.${CHECKSUM_METADATA_KEY} is not valid JSON`);
  }
  if (
    sums?.format !== CHECKSUM_FORMAT ||
    sums.algorithm !== 'sha256' ||
    typeof sums.tensors !== 'object' ||
    sums.tensors === null ||
    typeof sums.state !== 'string'
  ) {
    throw mismatch(path, 'checksums', `__metadata__.${CHECKSUM_METADATA_KEY} is not a ${CHECKSUM_FORMAT} record`);
  }
  if (stateDigest(metadata.distillery ?? '') !== sums.state)
    throw mismatch(path, 'state', 'the JSON state (step, optimiser config, extra) does not match its checksum');
  for (const name of Object.keys(sums.tensors)) {
    if (!(name in tensors)) throw mismatch(path, name, `tensor "${name}" is missing`);
  }
  for (const [name, tensor] of Object.entries(tensors)) {
    const expected = sums.tensors[name];
    if (expected === undefined) throw mismatch(path, name, `tensor "${name}" is not covered by the checksums (added after the write)`);
    if (tensorDigest(tensor) !== expected)
      throw mismatch(path, name, `tensor "${name}" does not match its checksum (bit flip or overwrite)`);
  }
  return true;
}

const TEMP_NAME = /\.tmp-(\d+)-[0-9a-z]+$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes `<path>.tmp-<pid>-<stamp>` files that `writeFileAtomic` left when its process died mid-write.
 * Only files whose writer is no longer running are touched, so a concurrent writer is never disturbed.
 * Returns the names removed.
 */
export async function removeStaleTempFiles(path: string): Promise<string[]> {
  const dir = dirname(path);
  const prefix = `${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(TEMP_NAME.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || processAlive(pid)) continue;
    await rm(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
