import { decodeSafetensors } from '@distillery/core';
import { readFloat32 } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { randn, upload } from './helpers.js';
import { MlpClassifier } from '../src/models/mlp.js';
import { TransformerLm } from '../src/models/transformer.js';
import { CharTokenizer } from '../src/tokenizer.js';
import { uploadI32 } from './helpers.js';
import { CHECKSUM_METADATA_KEY, encodeModelState, loadModel, MODEL_METADATA_KEY, readModelState, saveModel } from '../src/node.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nn-node-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

gpuDescribe('saveModel / loadModel (safetensors)', () => {
  gpuTest('round-trips weights and config; the file is plain safetensors with PyTorch Linear names', async ({ device }) => {
    const model = MlpClassifier.create(device, { inputSize: 8, hidden: [12], classes: 4, activation: 'gelu', dropout: 0.1, seed: 4 });
    const path = join(dir, 'mlp.safetensors');
    await saveModel(path, model);
    const { tensors, metadata } = decodeSafetensors(await readFile(path));
    expect(Object.keys(tensors).sort()).toEqual(['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight']);
    expect(tensors['layers.0.weight']).toMatchObject({ dtype: 'f32', shape: [12, 8] });
    expect(JSON.parse(metadata[MODEL_METADATA_KEY]!)).toMatchObject({
      kind: 'mlp-classifier',
      inputSize: 8,
      hidden: [12],
      classes: 4,
      activation: 'gelu',
      seed: 4,
    });
    expect(metadata.format).toBe('distillery-nn/1');
    const loaded = (await loadModel(device, path)) as MlpClassifier;
    expect(loaded.settings).toEqual(model.settings);
    const inputs = upload(device, randn(4 * 8, 1), [4, 8], 'x');
    const a = Array.from(await readFloat32(await model.forward({ inputs, rows: 4 }, { training: false })));
    const b = Array.from(await readFloat32(await loaded.forward({ inputs, rows: 4 }, { training: false })));
    expect(b).toEqual(a);
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  gpuTest('round-trips a transformer LM with its tokenizer', async ({ device }) => {
    const tokenizer = CharTokenizer.fromText('hello world');
    const model = TransformerLm.create(device, { tokenizer: tokenizer.toJSON(), context: 4, width: 8, heads: 2, layers: 1, seed: 3 });
    const path = join(dir, 'lm.safetensors');
    await saveModel(path, model);
    const loaded = (await loadModel(device, path)) as TransformerLm;
    expect(loaded).toBeInstanceOf(TransformerLm);
    expect(loaded.tokenizer.decode(loaded.tokenizer.encode('low'))).toBe('low');
    const tokens = uploadI32(device, Array.from(tokenizer.encode('hell')), 'tokens');
    const a = Array.from(await readFloat32(await model.forward({ tokens, sequences: 1 }, { training: false })));
    const b = Array.from(await readFloat32(await loaded.forward({ tokens, sequences: 1 }, { training: false })));
    expect(b).toEqual(a);
  });

  gpuTest('a failed save leaves the previous checkpoint loadable', async ({ device }) => {
    const model = MlpClassifier.create(device, { inputSize: 3, hidden: [2], classes: 2, seed: 1 });
    const path = join(dir, 'keep.safetensors');
    await saveModel(path, model);
    const failing = { saveState: () => Promise.reject(new Error('device lost mid-save')) };
    await expect(saveModel(path, failing)).rejects.toThrow('device lost mid-save');
    expect((await loadModel(device, path)).settings).toEqual(model.settings);
  });

  gpuTest('truncated, damaged, foreign, missing and non-finite files are typed errors naming the problem', async ({ device }) => {
    const model = MlpClassifier.create(device, { inputSize: 8, hidden: [4], classes: 2, seed: 2 });
    const state = await model.saveState();
    const bytes = encodeModelState(state);
    const write = async (name: string, data: Uint8Array | string) => {
      const path = join(dir, name);
      await writeFile(path, data);
      return path;
    };
    await expect(loadModel(device, await write('truncated', bytes.subarray(0, bytes.length - 10)))).rejects.toMatchObject({
      code: 'E_CORRUPT_FILE',
      message: /truncated/,
    });
    await expect(loadModel(device, await write('tiny', bytes.subarray(0, 5)))).rejects.toMatchObject({ code: 'E_CORRUPT_FILE' });
    const flipped = bytes.slice();
    flipped[flipped.length - 3]! ^= 0x40;
    await expect(loadModel(device, await write('flipped', flipped))).rejects.toMatchObject({ code: 'E_CORRUPT_FILE', message: /CRC-32/ });
    await expect(loadModel(device, await write('garbage', 'not a safetensors file at all'))).rejects.toMatchObject({
      code: 'E_CORRUPT_FILE',
    });
    await expect(loadModel(device, join(dir, 'absent.safetensors'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });

    const plain = encodeModelState({ tensors: state.tensors, config: {} });
    await expect(loadModel(device, await write('unknown-kind', plain))).rejects.toMatchObject({
      code: 'E_CORRUPT_FILE',
      message: /unknown kind/,
    });

    const mismatched = encodeModelState({ config: { ...state.config, hidden: [5] }, tensors: state.tensors });
    await expect(loadModel(device, await write('mismatch', mismatched))).rejects.toMatchObject({
      code: 'E_CORRUPT_FILE',
      message: /layers\.0\.weight/,
    });

    const poisoned = structuredClone(state);
    (poisoned.tensors['layers.1.weight']!.data as Float32Array)[3] = Number.NaN;
    const nanPath = await write('nan', encodeModelState(poisoned));
    await expect(loadModel(device, nanPath)).rejects.toMatchObject({
      code: 'E_NON_FINITE',
      details: { tensor: 'layers.1.weight', index: 3 },
    });
    await expect(readModelState(nanPath)).resolves.toMatchObject({ config: { kind: 'mlp-classifier' } });
    expect(CHECKSUM_METADATA_KEY).toBe('distillery.crc32');
  });
});
