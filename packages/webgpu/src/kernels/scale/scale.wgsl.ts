import { defineKernel, wgsl } from '../../wgsl/index.js';

export interface ScaleVariant {
  dtype: 'f32' | 'f16';
  workgroupSize: number;
}

/** y = alpha · x elementwise; f16 storage is computed in f32. */
export const scaleKernel = defineKernel({
  name: 'scale',
  uniforms: { count: 'u32', alpha: 'f32' },
  bindings: ({ dtype }: ScaleVariant) => ({
    x: { type: `array<${dtype}>`, access: 'read' },
    y: { type: `array<${dtype}>`, access: 'read_write' },
  }),
  wgsl: ({ dtype, workgroupSize }, k) => wgsl`${k.header}
alias Stored = ${dtype};

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${workgroupSize}u + lid;
  if (i < params.count) {
    y[i] = Stored(params.alpha * f32(x[i]));
  }
}
`,
});

/** The WGSL of a variant. */
export const scaleWgsl = (variant: ScaleVariant): string => scaleKernel.wgsl(variant);
