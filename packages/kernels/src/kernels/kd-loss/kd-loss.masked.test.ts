import { afterEach, expect, vi } from 'vitest';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { caught, makeLabels, makeLogits, upload } from '../../../test/helpers.js';
import { crossEntropy, kdLoss, KdLoss, type KdLossOptions } from '../../index.js';
import { resetWarnings, warnDegenerateJsd } from '../../shared/warnings.js';

const rows = 4;
const V = 40;

gpuDescribe('KD edge semantics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    resetWarnings();
  });

  const options = (device: GPUDevice, z: Float32Array, t: Float32Array, labels?: Int32Array): KdLossOptions => ({
    studentLogits: upload(device, z, [rows, V], 'z'),
    teacher: { kind: 'dense', logits: upload(device, t, [rows, V], 't') },
    ...(labels ? { labels: upload(device, labels, [rows], 'labels') } : {}),
    temperature: 2,
    softWeight: 1,
    hardWeight: labels ? 0.5 : 0,
  });

  gpuTest('a counted row whose student logits are all −∞ is rejected, naming the tensor and the row', async ({ device }) => {
    const error = await caught(() => kdLoss(options(device, makeLogits(1, rows, V, { emptyRows: [2] }), makeLogits(2, rows, V))));
    expect(error.code).toBe('E_BAD_VALUE');
    expect(error.details).toMatchObject({ field: 'studentLogits', row: 2 });
    expect(error.message).toContain('ignoreIndex');
  });

  gpuTest('a counted row whose dense teacher logits are all −∞ is rejected', async ({ device }) => {
    const error = await caught(() => kdLoss(options(device, makeLogits(1, rows, V), makeLogits(2, rows, V, { emptyRows: [3] }))));
    expect(error).toMatchObject({ code: 'E_BAD_VALUE', details: { field: 'teacher.logits', row: 3 } });
  });

  gpuTest('the same rows are fine when their label is ignoreIndex: they leave N, and the loss is finite', async ({ device }) => {
    const labels = makeLabels(3, rows, V);
    labels[2] = -100;
    const result = await kdLoss(options(device, makeLogits(1, rows, V, { emptyRows: [2] }), makeLogits(2, rows, V), labels));
    expect(await result.rows()).toBe(rows - 1);
    expect(await result.normalizer()).toBe(rows - 1);
    expect(Number.isFinite(await result.total())).toBe(true);
    result.release();
  });

  gpuTest('cross-entropy rejects a counted all −∞ row too (lazy check: on the first readback)', async ({ device }) => {
    const result = await crossEntropy({
      logits: upload(device, makeLogits(1, rows, V, { emptyRows: [0] }), [rows, V], 'logits'),
      labels: upload(device, makeLabels(2, rows, V), [rows], 'labels'),
      check: 'lazy',
    });
    await expect(result.total()).rejects.toMatchObject({ code: 'E_BAD_VALUE', details: { field: 'logits', row: 0 } });
    result.release();
  });

  gpuTest('JSD at β = 0 or 1 without jsdNormalized warns once (its soft term is identically 0)', async ({ device }) => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const loss = new KdLoss({ divergence: 'jsd', beta: 0, temperature: 1 });
    for (let step = 0; step < 3; step++) {
      const out = await loss.compute({
        studentLogits: upload(device, makeLogits(1, rows, V), [rows, V], 'z'),
        targets: { kind: 'dense', logits: upload(device, makeLogits(2, rows, V), [rows, V], 't') },
        hyper: {},
      });
      expect(await out.total()).toBe(0);
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain('jsdNormalized');
    expect(warn.mock.calls[0]![1]).toMatchObject({ code: 'DISTILLERY_JSD_DEGENERATE_BETA' });
    // Normalised, or β inside (0, 1), or no soft term: no warning.
    resetWarnings();
    expect(warnDegenerateJsd('jsd', 0, true, 1)).toBe(false);
    expect(warnDegenerateJsd('jsd', 0.5, false, 1)).toBe(false);
    expect(warnDegenerateJsd('jsd', 1, false, 0)).toBe(false);
    expect(warnDegenerateJsd('jsd', 1, false, 1)).toBe(true);
  });
});
