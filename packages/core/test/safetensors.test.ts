import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, isDistilleryError } from '../src/index.js';
import { writeFileAtomic } from '../src/node.js';

describe('safetensors', () => {
  it('round-trips tensors of every dtype and the metadata', () => {
    const bytes = encodeSafetensors({
      tensors: {
        w: { dtype: 'f32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-30, -Infinity]) },
        ids: { dtype: 'i32', shape: [3], data: new Int32Array([-1, 0, 7]) },
        h: { dtype: 'f16', shape: [1], data: new Uint16Array([0x3c00]) },
      },
      metadata: { step: '12' },
    });
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ step: '12' });
    expect(Array.from(back.tensors.w!.data)).toEqual([1, -2, 3.5, 0, Math.fround(1e-30), -Infinity]);
    expect(back.tensors.w!.shape).toEqual([2, 3]);
    expect(Array.from(back.tensors.ids!.data)).toEqual([-1, 0, 7]);
    expect(back.tensors.h!.dtype).toBe('f16');
    // Tensor data starts 8-byte aligned, as in files written by the reference implementation.
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
  });

  it('reads a file built byte by byte from the format specification', () => {
    const header = JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
    const bytes = new Uint8Array(8 + header.length + 8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(new TextEncoder().encode(header), 8);
    new DataView(bytes.buffer).setFloat32(8 + header.length, 0.5, true);
    new DataView(bytes.buffer).setFloat32(8 + header.length + 4, -4, true);
    expect(Array.from(decodeSafetensors(bytes).tensors.a!.data)).toEqual([0.5, -4]);
  });

  it('reports truncated and corrupt files as E_CORRUPT_FILE', () => {
    const bytes = encodeSafetensors({ tensors: { w: { dtype: 'f32', shape: [4], data: new Float32Array(4) } } });
    for (const broken of [bytes.subarray(0, 5), bytes.subarray(0, bytes.length - 3), new Uint8Array([...bytes.subarray(0, 8), 123, 34])]) {
      expect(() => decodeSafetensors(broken)).toThrowError(expect.objectContaining({ code: 'E_CORRUPT_FILE' }));
    }
  });

  it('an atomic write replaces the file whole and leaves no temp file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distillery-atomic-'));
    const path = join(dir, 'sub', 'ckpt.bin');
    await writeFileAtomic(path, 'old');
    await writeFileAtomic(path, 'new');
    expect(await readFile(path, 'utf8')).toBe('new');
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(join(dir, 'sub'))).toEqual(['ckpt.bin']);
    await writeFile(join(dir, 'x'), 'x');
    expect(isDistilleryError(new Error('x'))).toBe(false);
  });
});
