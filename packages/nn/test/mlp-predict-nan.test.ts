import { uploadTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { expect } from 'vitest';
import { MlpClassifier } from '../src/models/mlp.js';

gpuDescribe('MlpClassifier.predict on non-finite inputs', () => {
  gpuTest('NaN inputs are E_NON_FINITE naming the row, not a silent class 0', async ({ device }) => {
    const model = MlpClassifier.create(device, { inputSize: 3, hidden: [4], classes: 2, seed: 1 });
    const data = Float32Array.from([0.1, 0.2, 0.3, 0.5, Number.NaN, 0.1]);
    const inputs = uploadTensor(device, { shape: [2, 3], dtype: 'f32', data }, 'inputs');
    await expect(model.predict(inputs)).rejects.toMatchObject({ code: 'E_NON_FINITE', details: { field: 'inputs', row: 1 } });
    const fine = uploadTensor(device, { shape: [1, 3], dtype: 'f32', data: data.subarray(0, 3) }, 'inputs');
    expect((await model.predict(fine)).length).toBe(1);
  });
});
