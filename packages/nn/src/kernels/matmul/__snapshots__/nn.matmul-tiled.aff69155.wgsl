// nn.matmul-tiled {"accumulate":false,"activation":"gelu","bias":true,"bk":8,"colVecs":1,"dropout":true,"rows":4,"storePre":true,"transA":false,"transB":true,"vecA":false,"vecB":false,"vecC":false,"wgX":4,"wgY":2}
struct Params {
  M: u32,
  N: u32,
  K: u32,
  stride_a: u32,
  stride_b: u32,
  stride_c: u32,
  seed: u32,
  step: u32,
  p: f32,
  keep_scale: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> pre: array<f32>;

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


var<workgroup> As: array<vec4<f32>, 16>;
var<workgroup> Bs: array<vec4<f32>, 32>;

fn load_c(base: u32, m: u32, n: u32) -> vec4<f32> {
  let row = base + m * params.N;
  let last = params.N - 1u;
  return vec4<f32>(C[row + min(n, last)], C[row + min(n + 1u, last)], C[row + min(n + 2u, last)], C[row + min(n + 3u, last)]);
}

fn store_c(base: u32, m: u32, n: u32, value: vec4<f32>) {
  let row = base + m * params.N;
  for (var i = 0u; i < 4u; i++) {
    if (n + i < params.N) { C[row + n + i] = value[i]; }
  }
}

fn store_pre(base: u32, m: u32, n: u32, value: vec4<f32>) {
  let row = base + m * params.N;
  for (var i = 0u; i < 4u; i++) {
    if (n + i < params.N) { pre[row + n + i] = value[i]; }
  }
}
fn load_bias(n: u32) -> vec4<f32> {
  let base = 0u;
  let m = 0u;
  let row = base + m * params.N;
  let last = params.N - 1u;
  return vec4<f32>(bias[row + min(n, last)], bias[row + min(n + 1u, last)], bias[row + min(n + 2u, last)], bias[row + min(n + 3u, last)]);
}

fn epilogue(base: u32, m: u32, n: u32, acc: vec4<f32>) {
  var z = acc;
  z = z + load_bias(n);
  store_pre(base, m, n, z);
  z = gelu4(z);
  let key = stream_key(params.seed, params.step);
  let index = base + m * params.N + n;
  let keep = vec4<f32>(
    select(0.0, params.keep_scale, uniform_at(key, index) >= params.p),
    select(0.0, params.keep_scale, uniform_at(key, index + 1u) >= params.p),
    select(0.0, params.keep_scale, uniform_at(key, index + 2u) >= params.p),
    select(0.0, params.keep_scale, uniform_at(key, index + 3u) >= params.p));
  z = z * keep;
  store_c(base, m, n, z);
}

@compute @workgroup_size(4, 2)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tx = lid3.x;
  let ty = lid3.y;
  let m0 = wid.x * 8u;
  let n0 = wid.y * 16u;
  let baseA = wid.z * params.stride_a;
  let baseB = wid.z * params.stride_b;
  let baseC = wid.z * params.stride_c;
  var acc0_0 = vec4<f32>(0.0);
  var acc1_0 = vec4<f32>(0.0);
  var acc2_0 = vec4<f32>(0.0);
  var acc3_0 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < params.K; k0 += 8u) {
  for (var i = lid; i < 64u; i += 8u) {
    let mm = i / 8u;
    let kk = i % 8u;
    let m = m0 + mm;
    let kg = k0 + kk;
    var value = 0.0;
    if (kg < params.K && m < params.M) { value = A[baseA + m * params.K + kg]; }
    As[kk * 2u + mm / 4u][mm % 4u] = value;
  }
  for (var i = lid; i < 128u; i += 8u) {
    let nn = i / 8u;
    let kk = i % 8u;
    let n = n0 + nn;
    let kg = k0 + kk;
    var value = 0.0;
    if (kg < params.K && n < params.N) { value = B[baseB + n * params.K + kg]; }
    Bs[kk * 4u + nn / 4u][nn % 4u] = value;
  }
    workgroupBarrier();
    for (var kk = 0u; kk < 8u; kk++) {
      let a0 = As[kk * 2u + ty * 1u + 0u];
      let b0 = Bs[kk * 4u + tx + 0u];
      acc0_0 = fma(vec4<f32>(a0[0]), b0, acc0_0);
      acc1_0 = fma(vec4<f32>(a0[1]), b0, acc1_0);
      acc2_0 = fma(vec4<f32>(a0[2]), b0, acc2_0);
      acc3_0 = fma(vec4<f32>(a0[3]), b0, acc3_0);
    }
    workgroupBarrier();
  }
  {
    let m = m0 + ty * 4u + 0u;
    let n = n0 + (tx + 0u) * 4u;
    if (m < params.M && n < params.N) { epilogue(baseC, m, n, acc0_0); }
  }
  {
    let m = m0 + ty * 4u + 1u;
    let n = n0 + (tx + 0u) * 4u;
    if (m < params.M && n < params.N) { epilogue(baseC, m, n, acc1_0); }
  }
  {
    let m = m0 + ty * 4u + 2u;
    let n = n0 + (tx + 0u) * 4u;
    if (m < params.M && n < params.N) { epilogue(baseC, m, n, acc2_0); }
  }
  {
    let m = m0 + ty * 4u + 3u;
    let n = n0 + (tx + 0u) * 4u;
    if (m < params.M && n < params.N) { epilogue(baseC, m, n, acc3_0); }
  }
}
