// nn.matmul-tiled {"accumulate":true,"activation":"none","bias":false,"bk":8,"colVecs":1,"dropout":false,"rows":4,"storePre":false,"transA":true,"transB":false,"vecA":true,"vecB":true,"vecC":true,"wgX":4,"wgY":2}
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
@group(0) @binding(1) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> C: array<vec4<f32>>;



var<workgroup> As: array<vec4<f32>, 16>;
var<workgroup> Bs: array<vec4<f32>, 32>;

fn load_c(base: u32, m: u32, n: u32) -> vec4<f32> {
  return C[(base + m * params.N + n) / 4u];
}

fn store_c(base: u32, m: u32, n: u32, value: vec4<f32>) {
  C[(base + m * params.N + n) / 4u] = value;
}


fn epilogue(base: u32, m: u32, n: u32, acc: vec4<f32>) {
  var z = acc;
  z = z + load_c(base, m, n);
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
  for (var i = lid; i < 16u; i += 8u) {
    let kk = i / 2u;
    let mv = i % 2u;
    let m = m0 + mv * 4u;
    let kg = k0 + kk;
    var value = vec4<f32>(0.0);
    if (kg < params.K && m < params.M) { value = A[(baseA + kg * params.M + m) / 4u]; }
    As[kk * 2u + mv] = value;
  }
  for (var i = lid; i < 32u; i += 8u) {
    let kk = i / 4u;
    let nv = i % 4u;
    let n = n0 + nv * 4u;
    let kg = k0 + kk;
    var value = vec4<f32>(0.0);
    if (kg < params.K && n < params.N) { value = B[(baseB + kg * params.N + n) / 4u]; }
    Bs[kk * 4u + nv] = value;
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
