import type { Parameter } from '@distillery/core';
import { readFloat32, type GpuTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { describe, expect } from 'vitest';
import { randn, upload, worstRatio } from './helpers.js';
import { gradNormReference } from '../src/kernels/grad-norm/grad-norm.js';
import { AdamW, adamwReference } from '../src/optim/adamw.js';
import { Sgd, sgdReference } from '../src/optim/sgd.js';

function params(device: GPUDevice, sizes: number[], seed: number) {
  return sizes.map((n, i) => {
    const w = randn(n, seed + 10 * i);
    const g = randn(n, seed + 10 * i + 1);
    const p: Parameter<GpuTensor> = { name: `p${i}`, value: upload(device, w, [n], `p${i}`), grad: upload(device, g, [n], `p${i}.grad`) };
    return { p, w: Float64Array.from(w), g };
  });
}

const SIZES = [3, 1000, 4097];

gpuDescribe('optimisers', () => {
  type Config = { momentum?: number; nesterov?: boolean; weightDecay?: number; clipNorm?: number; checkFinite?: boolean };
  describe.each<[string, Config]>([
    ['sgd', { momentum: 0.9, weightDecay: 0.01 }],
    ['sgd-nesterov', { momentum: 0.8, nesterov: true }],
    ['adamw', { weightDecay: 0.1 }],
    ['adamw-clipped', { weightDecay: 0, clipNorm: 5 }],
    ['sgd-clipped', { momentum: 0.5, clipNorm: 1, checkFinite: false }],
  ])('%s', (kind, config) => {
    gpuTest('three steps match the float64 reference', async ({ device }) => {
      const ps = params(device, SIZES, 1);
      const adam = kind.startsWith('adamw');
      const { momentum, nesterov, ...rest } = config;
      const opt = adam ? new AdamW(rest) : new Sgd(config);
      void momentum;
      void nesterov;
      const s1 = ps.map((x) => new Float64Array(x.w.length));
      const s2 = ps.map((x) => new Float64Array(x.w.length));
      const lrs = [0.1, 0.05, 0.02];
      const clip = config.clipNorm ?? 0;
      const scale = gradNormReference(
        ps.map((x) => x.g),
        clip,
      ).scale;
      for (const [t, lr] of lrs.entries()) {
        await opt.step(
          ps.map((x) => x.p),
          lr,
        );
        ps.forEach((x, i) =>
          adam ? adamwReference(x.w, x.g, s1[i]!, s2[i]!, lr, t + 1, config, scale) : sgdReference(x.w, x.g, s1[i]!, lr, config, scale),
        );
      }
      expect(opt.stepCount).toBe(3);
      for (const x of ps) {
        const got = await readFloat32(x.p.value);
        const r = worstRatio(got, x.w, (i) => 1e-5 * (1 + Math.abs(x.w[i]!)));
        expect(r.ratio, `${x.p.name}[${r.index}] got ${got[r.index]} want ${x.w[r.index]}`).toBeLessThanOrEqual(1);
      }
    });
  });

  gpuTest('a NaN gradient stops with E_NON_FINITE naming the step and tensor, and leaves every weight unchanged', async ({ device }) => {
    const ps = params(device, SIZES, 2);
    const opt = new AdamW();
    await opt.step(
      ps.map((x) => x.p),
      0.01,
    );
    const before = await Promise.all(ps.map((x) => readFloat32(x.p.value)));
    const bad = randn(1000, 3);
    bad[17] = Number.NaN;
    device.queue.writeBuffer(ps[1]!.p.grad.buffer, 0, bad as Float32Array<ArrayBuffer>);
    const error = await opt
      .step(
        ps.map((x) => x.p),
        0.01,
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_NON_FINITE', details: { tensor: 'p1.grad', step: 1 } });
    expect(String(error)).toMatch(/gradient p1\.grad contains NaN or Inf at step 1/);
    const after = await Promise.all(ps.map((x) => readFloat32(x.p.value)));
    after.forEach((a, i) => expect(Array.from(a)).toEqual(Array.from(before[i]!)));
    expect(opt.stepCount).toBe(1);
  });

  describe.each(['sgd', 'adamw'] as const)('%s state', (kind) => {
    gpuTest('save → load into a fresh optimiser resumes bit-exactly', async ({ device }) => {
      const make = () => (kind === 'sgd' ? new Sgd({ momentum: 0.9 }) : new AdamW({ clipNorm: 2 }));
      const a = params(device, SIZES, 4);
      const b = params(device, SIZES, 4);
      const optA = make();
      const optB = make();
      for (let t = 0; t < 2; t++) {
        await optA.step(
          a.map((x) => x.p),
          0.1,
        );
        await optB.step(
          b.map((x) => x.p),
          0.1,
        );
      }
      const saved = await optB.saveState();
      expect(saved.step).toBe(2);
      expect(Object.keys(saved.tensors).sort()).toEqual(
        kind === 'sgd' ? ['p0.momentum', 'p1.momentum', 'p2.momentum'] : ['p0.m', 'p0.v', 'p1.m', 'p1.v', 'p2.m', 'p2.v'],
      );
      const optC = make();
      await optC.loadState(structuredClone(saved));
      for (let t = 0; t < 2; t++) {
        await optA.step(
          a.map((x) => x.p),
          0.05,
        );
        await optC.step(
          b.map((x) => x.p),
          0.05,
        );
      }
      for (let i = 0; i < SIZES.length; i++)
        expect(Array.from(await readFloat32(b[i]!.p.value))).toEqual(Array.from(await readFloat32(a[i]!.p.value)));
      await expect((kind === 'sgd' ? new AdamW() : new Sgd()).loadState(saved)).rejects.toMatchObject({ code: 'E_BAD_CONFIG' });
    });
  });

  gpuTest('bad hyper-parameters are E_BAD_CONFIG naming the field', () => {
    expect(() => new AdamW({ beta1: 1 })).toThrowError(/adamw\.beta1/);
    expect(() => new Sgd({ momentum: -0.1 })).toThrowError(expect.objectContaining({ code: 'E_BAD_CONFIG' }));
  });
});
