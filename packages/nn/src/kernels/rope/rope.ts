import { badValue, requireInteger, requirePositive } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, linearGrid, type GpuTensor, type KernelProgram } from '@distillery/webgpu';
import { requireDtype, requireSameDevice, requireShape } from '../../checks.js';
import type { RopeOptions } from './reference.js';
import { ropeCacheKey, ropeWgsl, type RopeVariant } from './rope.wgsl.js';

export const ropeProgram: KernelProgram<RopeVariant> = {
  name: 'nn.rope',
  cacheKey: ropeCacheKey,
  wgsl: ropeWgsl,
};

const WORKGROUP = 256;

/** Positions stay exact in f32 below 2^24. */
const MAX_POSITION = 2 ** 24;

function checkOptions(options: RopeOptions): Required<RopeOptions> {
  const { sequences, context, heads, headDim, ropeDims, base, positionOffset = 0, inverse = false, layout } = options;
  requireInteger('rope.sequences', sequences, 1);
  requireInteger('rope.context', context, 1, MAX_POSITION);
  requireInteger('rope.heads', heads, 1);
  requireInteger('rope.headDim', headDim, 2);
  if (headDim % 2 !== 0) throw badValue('rope.headDim', headDim, 'an even number');
  requireInteger('rope.ropeDims', ropeDims, 2, headDim);
  if (ropeDims % 2 !== 0) throw badValue('rope.ropeDims', ropeDims, 'an even number');
  requirePositive('rope.base', base);
  requireInteger('rope.positionOffset', positionOffset, 0, MAX_POSITION - context);
  if (typeof inverse !== 'boolean') throw badValue('rope.inverse', inverse, 'a boolean');
  if (layout !== 'norm' && layout !== 'neox') throw badValue('rope.layout', layout, "'norm' (llama.cpp, GGUF llama) or 'neox' (HF rotate_half)");
  return { sequences, context, heads, headDim, ropeDims, base, positionOffset, inverse, layout };
}

/**
 * Records y = RoPE(x) on `x [sequences·context, heads·headDim]`: in each head, pair i < ropeDims/2 of
 * the row at position p = (r mod context) + positionOffset is rotated by θ = p·base^(−2i/ropeDims)
 * (−θ with `inverse`, which is also the backward: dx = RoPE⁻¹(dy)); dims past ropeDims are copied.
 * `y` may be `x` (in place).
 */
export function recordRope(recorder: CommandRecorder, x: GpuTensor, y: GpuTensor, options: RopeOptions): void {
  const o = checkOptions(options);
  requireDtype(x);
  requireDtype(y);
  requireSameDevice(x, y);
  const rows = o.sequences * o.context;
  requireShape(x, [rows, o.heads * o.headDim]);
  requireShape(y, x.shape);
  checkBindingSize(recorder.device, x.label, x.byteLength);
  const inPlace = x.buffer === y.buffer;
  const slots = x.size / 2;
  recorder.dispatch({
    program: ropeProgram,
    variant: { layout: o.layout, inPlace, workgroupSize: WORKGROUP },
    uniforms: [
      { u32: slots },
      { u32: o.context },
      { u32: o.heads },
      { u32: o.headDim },
      { u32: o.ropeDims / 2 },
      { u32: o.positionOffset },
      { f32: (-2 * Math.log2(o.base)) / o.ropeDims },
      { f32: o.inverse ? -1 : 1 },
    ],
    bindings: inPlace ? [x] : [x, y],
    workgroups: linearGrid(recorder.device, Math.ceil(slots / WORKGROUP)),
    label: `rope${o.inverse ? '⁻¹' : ''} ${x.label}`,
  });
}

/** RoPE(x) as a new tensor, submitted. */
export async function rope(x: GpuTensor, options: RopeOptions): Promise<GpuTensor> {
  const y = createTensor(x.device, { shape: x.shape, dtype: 'f32', label: `rope(${x.label})` });
  const recorder = new CommandRecorder(x.device, 'rope');
  recordRope(recorder, x, y, options);
  await recorder.submit();
  return y;
}
