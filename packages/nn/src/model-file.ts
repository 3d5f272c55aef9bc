/**
 * Model files as bytes (browser-safe): safetensors with the model's config as JSON and CRC-32s in
 * `__metadata__`. `@distillery/nn/node` reads and writes them as files; a page downloads or
 * uploads the same bytes.
 */
import {
  decodeSafetensors,
  DistilleryError,
  encodeSafetensors,
  isDistilleryError,
  type HostTensor,
  type ModelState,
} from '@distillery/core';

/** `__metadata__` key holding the model config (JSON). */
export const MODEL_METADATA_KEY = 'distillery.model';
/** `__metadata__` key holding the CRC-32 of every tensor's bytes (JSON). */
export const CHECKSUM_METADATA_KEY = 'distillery.crc32';
export const MODEL_FORMAT = 'distillery-nn/1';

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
    metadata: {
      format: MODEL_FORMAT,
      [MODEL_METADATA_KEY]: JSON.stringify(state.config),
      [CHECKSUM_METADATA_KEY]: JSON.stringify(checksums),
    },
  });
}

export function corrupt(path: string, message: string, details: Record<string, unknown> = {}, cause?: unknown): DistilleryError {
  return new DistilleryError(
    'E_CORRUPT_FILE',
    `${path}: ${message}`,
    { field: 'path', value: path, ...details },
    cause === undefined ? undefined : { cause },
  );
}

/** Decodes and verifies safetensors bytes written by `encodeModelState`. */
export function decodeModelState(bytes: Uint8Array, path = 'model'): ModelState {
  let content: ReturnType<typeof decodeSafetensors>;
  try {
    content = decodeSafetensors(bytes);
  } catch (error) {
    if (isDistilleryError(error, 'E_CORRUPT_FILE'))
      throw corrupt(path, error.message.replace(/^E_CORRUPT_FILE: /, ''), error.details, error);
    throw error;
  }
  const { tensors, metadata } = content;
  let config: unknown;
  try {
    config = JSON.parse(metadata[MODEL_METADATA_KEY] ?? '');
  } catch (error) {
    throw corrupt(path, `is a safetensors file without a valid model config (__metadata__["${MODEL_METADATA_KEY}"])`, {}, error);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    throw corrupt(path, 'model config in __metadata__ is not a JSON object');
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
      if (got !== want)
        throw corrupt(path, `tensor ${name} fails its CRC-32 check (stored ${want}, computed ${got}): the file is damaged`, {
          tensor: name,
        });
    }
    for (const name of Object.keys(checksums))
      if (!tensors[name]) throw corrupt(path, `tensor ${name} is listed in the checksums but missing`, { tensor: name });
  }
  return { config: config as Record<string, unknown>, tensors };
}
