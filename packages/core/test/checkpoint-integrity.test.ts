import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { decodeSafetensors, encodeSafetensors, type TrainingCheckpoint } from '../src/index.js';
import { FileCheckpointStore, writeFileAtomic } from '../src/node.js';

function checkpoint(): TrainingCheckpoint {
  return {
    step: 3,
    epoch: 0,
    batchIndex: 3,
    student: {
      config: { widths: [4, 2] },
      tensors: { 'fc.weight': { dtype: 'f32', shape: [2, 4], data: Float32Array.from({ length: 8 }, (_, i) => 0.1 * (i + 1)) } },
    },
    optimizer: {
      step: 3,
      config: { lr: 0.01 },
      tensors: { 'fc.weight.m': { dtype: 'f32', shape: [2, 4], data: Float32Array.from({ length: 8 }, (_, i) => 1e-3 * (i - 4)) } },
    },
    extra: { rng: [1, 2, 3] },
  };
}

/** Byte offset in the file of element `index` of tensor `name`. */
function offsetOf(bytes: Uint8Array, name: string, index: number): number {
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<
    string,
    { data_offsets: [number, number] }
  >;
  return 8 + headerLength + header[name]!.data_offsets[0] + index * 4;
}

async function saved(): Promise<{ dir: string; path: string; bytes: Uint8Array }> {
  const dir = await mkdtemp(join(tmpdir(), 'distillery-ckpt-'));
  const path = join(dir, 'run.safetensors');
  await new FileCheckpointStore(path).save(checkpoint());
  return { dir, path, bytes: new Uint8Array(await readFile(path)) };
}

async function loadError(path: string): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  return (await new FileCheckpointStore(path).load().then(
    () => expect.fail('load accepted a damaged checkpoint'),
    (error: unknown) => error,
  )) as never;
}

describe('checkpoint integrity', () => {
  it('round-trips and reports the file as verified', async () => {
    const { path } = await saved();
    const store = new FileCheckpointStore(path);
    const back = await store.load();
    expect(store.verification).toBe('verified');
    expect(Array.from(back!.student.tensors['fc.weight']!.data)).toEqual(Array.from(checkpoint().student.tensors['fc.weight']!.data));
  });

  it('one flipped mantissa bit of one weight is E_CORRUPT_FILE naming the file and the tensor', async () => {
    const { path, bytes } = await saved();
    bytes[offsetOf(bytes, 'student/fc.weight', 5)]! ^= 0x01;
    await writeFile(path, bytes);
    // The flipped file is still a perfectly decodable safetensors file: only the checksum sees it.
    expect(decodeSafetensors(bytes).tensors['student/fc.weight']!.data[5]).not.toBe(checkpoint().student.tensors['fc.weight']!.data[5]);
    const error = await loadError(path);
    expect(error.code).toBe('E_CORRUPT_FILE');
    expect(error.message).toContain(path);
    expect(error.message).toContain('student/fc.weight');
    expect(error.details).toMatchObject({ file: path, field: 'student/fc.weight' });
  });

  it('an Adam-moment bit flip is caught too', async () => {
    const { path, bytes } = await saved();
    bytes[offsetOf(bytes, 'optimizer/fc.weight.m', 2) + 3]! ^= 0x40;
    await writeFile(path, bytes);
    const error = await loadError(path);
    expect(error).toMatchObject({ code: 'E_CORRUPT_FILE', details: { field: 'optimizer/fc.weight.m', file: path } });
  });

  it('an edited JSON state (step counter) is caught', async () => {
    const { path, bytes } = await saved();
    const text = Buffer.from(bytes).toString('latin1').replace('\\"step\\":3', '\\"step\\":4');
    expect(text).not.toBe(Buffer.from(bytes).toString('latin1'));
    await writeFile(path, Buffer.from(text, 'latin1'));
    const error = await loadError(path);
    expect(error).toMatchObject({ code: 'E_CORRUPT_FILE', details: { field: 'state', file: path } });
  });

  it('truncated and garbage files are E_CORRUPT_FILE naming the file', async () => {
    const { path, bytes } = await saved();
    for (const broken of [
      bytes.subarray(0, bytes.length - 5),
      bytes.subarray(0, 6),
      new Uint8Array(200).map((_, i) => (i * 37 + 11) & 0xff),
    ]) {
      await writeFile(path, broken);
      const error = await loadError(path);
      expect(error.code).toBe('E_CORRUPT_FILE');
      expect(error.message).toContain(path);
      expect(error.details.file).toBe(path);
    }
  });

  it('a checkpoint written before checksums existed still loads, unverified, with one warning', async () => {
    const { path } = await saved();
    const legacy = decodeSafetensors(new Uint8Array(await readFile(path)));
    await writeFile(path, encodeSafetensors({ tensors: legacy.tensors, metadata: { distillery: legacy.metadata.distillery! } }));
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const store = new FileCheckpointStore(path);
      const back = await store.load();
      await store.load();
      expect(back!.step).toBe(3);
      expect(store.verification).toBe('no-checksums');
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toContain(path);
    } finally {
      warn.mockRestore();
    }
  });

  it('the next save removes temp files of interrupted saves (dead writers only)', async () => {
    const { dir, path } = await saved();
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(child.stdout);
    const stale = `run.safetensors.tmp-${deadPid}-lx3k2`;
    const live = `run.safetensors.tmp-${process.ppid}-lx3k3`;
    await writeFile(join(dir, stale), 'half a checkpoint');
    await writeFile(join(dir, live), 'someone else writing right now');
    await new FileCheckpointStore(path).save(checkpoint());
    expect((await readdir(dir)).sort()).toEqual([live, 'run.safetensors'].sort());
  });

  it('writeFileAtomic onto a directory is a typed error and leaves no temp file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'distillery-atomic-dir-'));
    await mkdir(join(dir, 'out'));
    await expect(writeFileAtomic(join(dir, 'out'), 'x')).rejects.toMatchObject({
      code: 'E_BAD_VALUE',
      details: { field: 'path', value: join(dir, 'out') },
    });
    expect(await readdir(dir)).toEqual(['out']);
    await writeFile(join(dir, 'file'), 'x');
    await expect(writeFileAtomic(join(dir, 'file', 'below'), 'x')).rejects.toMatchObject({
      code: 'E_BAD_VALUE',
      details: { field: 'path' },
    });
  });
});
