// nn.heads {"direction":"split","parts":3,"workgroupSize":256}
struct Params {
  count: u32,
  T: u32,
  H: u32,
  dh: u32,
  D: u32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tokens: array<f32>;
@group(0) @binding(2) var<storage, read_write> head0: array<f32>;
@group(0) @binding(3) var<storage, read_write> head1: array<f32>;
@group(0) @binding(4) var<storage, read_write> head2: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // i indexes the head-major layout [B, H, T, dh].
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i < params.count) {
    let e = i % params.dh;
    let t = (i / params.dh) % params.T;
    let h = (i / (params.dh * params.T)) % params.H;
    let b = i / (params.dh * params.T * params.H);
    head0[i] = tokens[((b * params.T + t) * 3u + 0u) * params.D + h * params.dh + e];
    head1[i] = tokens[((b * params.T + t) * 3u + 1u) * params.D + h * params.dh + e];
    head2[i] = tokens[((b * params.T + t) * 3u + 2u) * params.D + h * params.dh + e];
  }
}
