import { defineKernel, wgsl } from '@distillery/webgpu/wgsl';

export interface AddVariant {
  /** y ← y + a (in place) instead of y ← a + b. */
  inPlace: boolean;
  workgroupSize: number;
}

/** Residual add, y = a + b, or y += a; its backward is the identity on both branches. */
export const addKernel = defineKernel({
  name: 'nn.add',
  uniforms: { count: 'u32' },
  bindings: (v: AddVariant) => ({
    a: { type: 'array<f32>', access: 'read' },
    b: !v.inPlace && { type: 'array<f32>', access: 'read' },
    y: { type: 'array<f32>', access: 'read_write' },
  }),
  wgsl: (v, k) => wgsl`${k.header}

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i < params.count) {
#if ${v.inPlace}
    y[i] = y[i] + a[i];
#else
    y[i] = a[i] + b[i];
#endif
  }
}
`,
});
