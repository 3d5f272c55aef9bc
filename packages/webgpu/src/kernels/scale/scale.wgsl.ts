import { wgsl } from '../../wgsl.js';

export interface ScaleVariant {
  dtype: 'f32' | 'f16';
  workgroupSize: number;
}

/** y = alpha · x elementwise; f16 storage is computed in f32. */
export function scaleWgsl({ dtype, workgroupSize }: ScaleVariant): string {
  const f16 = dtype === 'f16';
  return wgsl`
#if ${f16}
enable f16;
alias Stored = f16;
#else
alias Stored = f32;
#endif

struct Params {
  count: u32,
  alpha: f32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Stored>;
@group(0) @binding(2) var<storage, read_write> y: array<Stored>;

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${workgroupSize}u + lid;
  if (i < params.count) {
    y[i] = Stored(params.alpha * f32(x[i]));
  }
}
`;
}
