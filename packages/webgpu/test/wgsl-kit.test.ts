import { DistilleryError } from '@distillery/core';
import { describe, expect, it } from 'vitest';
import { CommandRecorder } from '../src/recorder.js';
import { createTensor, readFloat32, readTensor, uploadTensor, type GpuTensor } from '../src/tensor.js';
import { gpuDescribe, gpuTest } from '../src/testing.js';
import { defineKernel, hasSubgroups, stableKey, variantHash, wgsl, workgroupReduce } from '../src/wgsl/index.js';

const echoKernel = defineKernel({
  name: 'test.echo-params',
  uniforms: { a: 'u32', b: 'i32', c: 'f32', flag: 'u32', inf: { type: 'f32', nonFinite: true, default: -Infinity } },
  bindings: () => ({ out: { type: 'array<u32>', access: 'read_write' } }),
  wgsl: (_v: Record<string, never>, k) => wgsl`${k.header}
@compute @workgroup_size(1)
fn main() {
  out[0] = params.a;
  out[1] = bitcast<u32>(params.b);
  out[2] = bitcast<u32>(params.c);
  out[3] = params.flag;
  out[4] = bitcast<u32>(params.inf);
}
`,
});

interface SumVariant {
  op: 'sum' | 'max';
  lanes: 1 | 2;
  workgroupSize: number;
  subgroups: boolean;
}

/** One workgroup per row: reduces `cols` values (strided loop + workgroupReduce) into out[row]. */
const reduceKernel = defineKernel({
  name: 'test.reduce',
  uniforms: { rows: 'u32', cols: 'u32' },
  bindings: (v: SumVariant) => ({
    x: { type: v.lanes === 1 ? 'array<f32>' : 'array<vec2<f32>>', access: 'read' },
    out: { type: v.lanes === 1 ? 'array<f32>' : 'array<vec2<f32>>', access: 'read_write' },
  }),
  wgsl: (v, k) => {
    const T = v.lanes === 1 ? 'f32' : 'vec2<f32>';
    return wgsl`${k.header}
${workgroupReduce({ name: 'reduceAll', op: v.op, type: T, workgroupSize: v.workgroupSize, subgroups: v.subgroups })}
@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  if (row >= params.rows) { return; }
#if ${v.op === 'sum'}
  var acc = ${T}();
  for (var c = lid; c < params.cols; c += ${v.workgroupSize}u) { acc += x[row * params.cols + c]; }
#else
  var acc = x[row * params.cols];
  for (var c = lid; c < params.cols; c += ${v.workgroupSize}u) { acc = max(acc, x[row * params.cols + c]); }
#endif
  let total = reduceAll(lid, acc);
  // A second call on the same scratch right away must see its own values.
  let again = reduceAll(lid, acc);
  if (lid == 0u) { out[row] = select(total, ${T}(-1.0), any(${T}(total) != ${T}(again))); }
}
`;
  },
});

/** One workgroup per row: log Σ exp(x) through an online (max, sum) merge passed to workgroupReduce as `combine`. */
const logSumExpKernel = defineKernel({
  name: 'test.reduce-combine',
  uniforms: { rows: 'u32', cols: 'u32' },
  bindings: () => ({ x: { type: 'array<f32>', access: 'read' }, out: { type: 'array<f32>', access: 'read_write' } }),
  wgsl: (v: { workgroupSize: number }, k) => wgsl`${k.header}
fn lseMerge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}
${workgroupReduce({ name: 'mergeAll', op: { combine: 'lseMerge' }, type: 'vec2<f32>', workgroupSize: v.workgroupSize })}
@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  if (row >= params.rows) { return; }
  var acc = vec2<f32>(-3.0e38, 0.0);
  for (var c = lid; c < params.cols; c += ${v.workgroupSize}u) { acc = lseMerge(acc, vec2<f32>(x[row * params.cols + c], 1.0)); }
  let total = mergeAll(lid, acc);
  if (lid == 0u) { out[row] = total.x + log(total.y); }
}
`,
});

describe('wgsl kit (host side)', () => {
  it('derives the cache key from every variant field, in any key order', () => {
    expect(stableKey({ b: 1, a: 'x', c: undefined })).toBe(stableKey({ a: 'x', b: 1 }));
    expect(stableKey({ a: true })).not.toBe(stableKey({ a: false }));
    expect(variantHash({ b: 1, a: 'x' })).toBe(variantHash({ a: 'x', b: 1 }));
    expect(variantHash({ a: 1 })).toMatch(/^[0-9a-f]{8}$/);
    expect(reduceKernel.cacheKey({ op: 'sum', lanes: 1, workgroupSize: 64, subgroups: false })).not.toBe(
      reduceKernel.cacheKey({ op: 'sum', lanes: 1, workgroupSize: 64, subgroups: true }),
    );
  });

  it('generates the uniform struct in table order and the bindings in object order, absent ones skipped', () => {
    const k = defineKernel({
      name: 'test.decls',
      uniforms: { rows: 'u32', eps: 'f32' },
      bindings: (v: { stats: boolean }) => ({
        x: { type: 'array<f32>', access: 'read' },
        stats: v.stats && { type: 'array<f32>', access: 'read_write' },
        y: { type: 'array<f16>', access: 'read_write' },
      }),
      wgsl: (_v, k) => k.header,
    });
    expect(k.wgsl({ stats: true })).toBe(`enable f16;
struct Params {
  rows: u32,
  eps: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f16>;`);
    expect(k.wgsl({ stats: false })).toContain('@group(0) @binding(2) var<storage, read_write> y: array<f16>;');
    expect(k.requiredFeatures!({ stats: false })).toEqual(['shader-f16']);
  });

  it('enables subgroups (and requires the feature) when the body uses subgroup operations', () => {
    const variant: SumVariant = { op: 'sum', lanes: 1, workgroupSize: 64, subgroups: true };
    expect(reduceKernel.wgsl(variant).startsWith('enable subgroups;\n')).toBe(true);
    expect(reduceKernel.requiredFeatures!(variant)).toEqual(['subgroups']);
    expect(reduceKernel.requiredFeatures!({ ...variant, subgroups: false })).toEqual([]);
  });
  it('rejects a combine that is not a WGSL function name', () => {
    expect(() => workgroupReduce({ name: 'r', op: { combine: 'a + b' }, workgroupSize: 64 })).toThrow(
      /op\.combine must name a WGSL function/,
    );
  });
});

function expectError(fn: () => unknown, code: string, field: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DistilleryError);
    expect((error as DistilleryError).code).toBe(code);
    expect((error as DistilleryError).details.field).toBe(field);
    expect((error as DistilleryError).details.kernel).toBeDefined();
    expect((error as Error).message).toContain('my-label');
    return;
  }
  throw new Error(`expected ${code} naming ${field}`);
}

gpuDescribe('wgsl kit (device)', () => {
  gpuTest('the packed uniforms land in the generated struct field by field', async ({ device }) => {
    const out = createTensor(device, { shape: [5], dtype: 'u32', label: 'out' });
    const recorder = new CommandRecorder(device, 'echo');
    echoKernel.record(recorder, {}, { uniforms: { a: 4_000_000_000, b: -7, c: 1.5, flag: true }, bindings: { out }, workgroups: [1] });
    await recorder.submit();
    const got = (await readTensor(out)).data as Uint32Array;
    const f32 = new Float32Array(got.buffer);
    expect([got[0], new Int32Array(got.buffer)[1], f32[2], got[3], f32[4]]).toEqual([4_000_000_000, -7, 1.5, 1, -Infinity]);
  });

  gpuTest('record checks bindings and uniforms by name before encoding', async ({ device }) => {
    const variant: SumVariant = { op: 'sum', lanes: 1, workgroupSize: 64, subgroups: false };
    const x = createTensor(device, { shape: [8], dtype: 'f32', label: 'x' });
    const out = createTensor(device, { shape: [1], dtype: 'f32', label: 'out' });
    const ints = createTensor(device, { shape: [8], dtype: 'u32', label: 'ints' });
    const recorder = new CommandRecorder(device, 'checks');
    const base = { uniforms: { rows: 1, cols: 8 }, bindings: { x, out }, workgroups: [1] as const, label: 'my-label' };
    expectError(() => reduceKernel.record(recorder, variant, { ...base, bindings: { x } }), 'E_BAD_VALUE', 'bindings.out');
    expectError(
      () => reduceKernel.record(recorder, variant, { ...base, bindings: { x, out, extra: x } as never }),
      'E_BAD_VALUE',
      'bindings.extra',
    );
    expectError(() => reduceKernel.record(recorder, variant, { ...base, bindings: { x: ints, out } }), 'E_BAD_VALUE', 'bindings.x');
    const huge = { buffer: x.buffer, size: device.limits.maxStorageBufferBindingSize + 4 };
    expectError(() => reduceKernel.record(recorder, variant, { ...base, bindings: { x: huge, out } }), 'E_LIMIT_EXCEEDED', 'bindings.x');
    expectError(() => reduceKernel.record(recorder, variant, { ...base, uniforms: { rows: 1 } as never }), 'E_BAD_VALUE', 'uniforms.cols');
    expectError(
      () => reduceKernel.record(recorder, variant, { ...base, uniforms: { rows: 1, cols: 8, eps: 1 } as never }),
      'E_BAD_VALUE',
      'uniforms.eps',
    );
    expectError(() => reduceKernel.record(recorder, variant, { ...base, uniforms: { rows: -1, cols: 8 } }), 'E_BAD_VALUE', 'uniforms.rows');
    expectError(
      () =>
        echoKernel.record(
          recorder,
          {},
          { uniforms: { a: 1, b: 0, c: Number.NaN, flag: 0 }, bindings: { out: ints }, workgroups: [1], label: 'my-label' },
        ),
      'E_BAD_VALUE',
      'uniforms.c',
    );
    expect(recorder.length).toBe(0);
  });

  gpuTest('two programs with the same name and cache key never share a pipeline', async ({ device }) => {
    const writer = (value: number) =>
      defineKernel({
        name: 'test.same-name',
        bindings: () => ({ out: { type: 'array<f32>', access: 'read_write' } }),
        wgsl: (_v: Record<string, never>, k) => `${k.header}\n@compute @workgroup_size(1) fn main() { out[0] = ${value.toFixed(1)}; }\n`,
      });
    const results: number[] = [];
    for (const value of [1, 2]) {
      const out = createTensor(device, { shape: [1], dtype: 'f32', label: 'out' });
      const recorder = new CommandRecorder(device, 'same-name');
      writer(value).record(recorder, {}, { uniforms: {}, bindings: { out }, workgroups: [1] });
      await recorder.submit();
      results.push((await readFloat32(out))[0]!);
    }
    expect(results).toEqual([1, 2]);
  });

  gpuTest('workgroupReduce sums and maxes like float64 host code (tree and subgroup paths)', async ({ device }) => {
    const paths = hasSubgroups(device) ? [false, true] : [false];
    const rows = 5;
    for (const subgroups of paths) {
      for (const workgroupSize of [8, 64, 256, 48]) {
        for (const op of ['sum', 'max'] as const) {
          for (const lanes of [1, 2] as const) {
            const cols = 1000;
            const values = Float32Array.from({ length: rows * cols * lanes }, (_, i) => Math.sin(i * 1.7) * 3 + (i % 7));
            const x = uploadTensor(device, { shape: [values.length], dtype: 'f32', data: values }, 'x');
            const out = createTensor(device, { shape: [rows * lanes], dtype: 'f32', label: 'out' });
            const recorder = new CommandRecorder(device, 'reduce');
            reduceKernel.record(
              recorder,
              { op, lanes, workgroupSize, subgroups },
              { uniforms: { rows, cols }, bindings: { x, out }, workgroups: [rows] },
            );
            await recorder.submit();
            const got = await readFloat32(out);
            for (let r = 0; r < rows; r++) {
              for (let l = 0; l < lanes; l++) {
                let want = op === 'sum' ? 0 : -Infinity;
                let abs = 0;
                for (let c = 0; c < cols; c++) {
                  const v = values[(r * cols + c) * lanes + l]!;
                  want = op === 'sum' ? want + v : Math.max(want, v);
                  abs += Math.abs(v);
                }
                const tol = op === 'sum' ? abs * 2 ** -23 * 12 : 0;
                expect(
                  Math.abs(got[r * lanes + l]! - want),
                  `${op} lanes=${lanes} wg=${workgroupSize} subgroups=${subgroups} row ${r}`,
                ).toBeLessThanOrEqual(tol);
              }
            }
            x.release();
            out.release();
          }
        }
      }
    }
  });

  gpuTest('workgroupReduce merges with a custom combine (online log-sum-exp) like float64 host code', async ({ device }) => {
    const rows = 3;
    const cols = 700;
    const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * 20 + (i % 11));
    for (const workgroupSize of [64, 48]) {
      const x = uploadTensor(device, { shape: [values.length], dtype: 'f32', data: values }, 'x');
      const out = createTensor(device, { shape: [rows], dtype: 'f32', label: 'out' });
      const recorder = new CommandRecorder(device, 'reduce-combine');
      logSumExpKernel.record(recorder, { workgroupSize }, { uniforms: { rows, cols }, bindings: { x, out }, workgroups: [rows] });
      await recorder.submit();
      const got = await readFloat32(out);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(values.subarray(r * cols, (r + 1) * cols));
        const m = Math.max(...row);
        const want = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
        expect(Math.abs(got[r]! - want), `wg=${workgroupSize} row ${r}`).toBeLessThan(1e-4 * Math.abs(want));
      }
      x.release();
      out.release();
    }
  });
});

export type { GpuTensor };
