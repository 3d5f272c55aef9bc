import { afterEach, expect, vi } from 'vitest';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { makeLabels, makeLogits, upload } from './helpers.js';
import { KdLoss } from '../src/index.js';

gpuDescribe('KdLoss defaults', () => {
  afterEach(() => vi.restoreAllMocks());

  gpuTest('warns once when labels arrive but hardWeight was never set, and not when it was', async ({ device }) => {
    const rows = 4;
    const V = 16;
    const inputs = () => ({
      studentLogits: upload(device, makeLogits(1, rows, V), [rows, V], 'z'),
      targets: { kind: 'dense' as const, logits: upload(device, makeLogits(2, rows, V), [rows, V], 't') },
      labels: upload(device, makeLabels(3, rows, V, 0), [rows], 'labels'),
    });
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const unset = new KdLoss();
    const first = await unset.compute({ ...inputs(), hyper: {} });
    expect((await first.terms.hard?.reduced()) ?? 0).toBe(0);
    await unset.compute({ ...inputs(), hyper: {} });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain('hardWeight was never set');
    expect(warn.mock.calls[0]![1]).toEqual({ code: 'DISTILLERY_KD_LABELS_IGNORED' });
    await new KdLoss({ hardWeight: 0 }).compute({ ...inputs(), hyper: {} });
    await new KdLoss().compute({ ...inputs(), hyper: { hardWeight: 0.5 } });
    const { labels: _labels, ...unlabelled } = inputs();
    await new KdLoss().compute({ ...unlabelled, hyper: {} });
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
