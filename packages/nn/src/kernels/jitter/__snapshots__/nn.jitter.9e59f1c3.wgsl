// nn.jitter {"workgroupSize":256}
struct Params {
  count: u32,
  seed: u32,
  step: u32,
  noise_std: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn hash32(x: u32) -> u32 {
  var h = x;
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  h = h * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return h;
}
fn stream_key(seed: u32, step: u32) -> u32 {
  return hash32(seed ^ hash32(step + 0x9e3779b9u));
}
fn uniform_at(key: u32, index: u32) -> f32 {
  let h = hash32(hash32(index + key) ^ key);
  return f32(h >> 8u) * (1.0 / 16777216.0);
}
fn normal_at(key: u32, index: u32) -> f32 {
  let u1 = 1.0 - uniform_at(key, 2u * index);
  let u2 = uniform_at(key, 2u * index + 1u);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}


@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i < params.count) {
    y[i] = x[i] + params.noise_std * normal_at(stream_key(params.seed, params.step), i);
  }
}
