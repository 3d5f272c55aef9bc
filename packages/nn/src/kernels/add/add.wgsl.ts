export interface AddVariant {
  /** y ← y + a (in place) instead of y ← a + b. */
  inPlace: boolean;
  workgroupSize: number;
}

/** Residual add, y = a + b, or y += a; its backward is the identity on both branches. */
export function addWgsl(v: AddVariant): string {
  const bindings = v.inPlace
    ? `@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;`
    : `@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;`;
  return `
struct Params {
  count: u32,
};
@group(0) @binding(0) var<uniform> params: Params;
${bindings}

@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;
  if (i < params.count) {
    ${v.inPlace ? 'y[i] = y[i] + a[i];' : 'y[i] = a[i] + b[i];'}
  }
}
`;
}
