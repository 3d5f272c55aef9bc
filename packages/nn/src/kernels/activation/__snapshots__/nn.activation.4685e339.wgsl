// nn.activation {"activation":"gelu","backward":true,"dropout":false,"workgroupSize":256}
struct Params {
  count: u32,
  seed: u32,
  step: u32,
  p: f32,
  keep_scale: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_in: array<f32>;



fn safe_tanh4(x: vec4<f32>) -> vec4<f32> {
  let e = exp(2.0 * clamp(x, vec4<f32>(-15.0), vec4<f32>(15.0)));
  return (e - 1.0) / (e + 1.0);
}
fn gelu4(z: vec4<f32>) -> vec4<f32> {
  let t = safe_tanh4(0.7978845608028654 * (z + 0.044715 * z * z * z));
  return 0.5 * z * (1.0 + t);
}
fn gelu_grad4(z: vec4<f32>) -> vec4<f32> {
  let t = safe_tanh4(0.7978845608028654 * (z + 0.044715 * z * z * z));
  return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 0.134145 * z * z);
}
fn relu4(z: vec4<f32>) -> vec4<f32> {
  return max(z, vec4<f32>(0.0));
}



@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i < params.count) {


    grad_in[i] = grad_out[i] * gelu_grad4(vec4<f32>(saved[i])).x;

  }
}
