// nn.matmul {"aLoad":"subgroup","accumulate":false,"activation":"relu","bias":true,"colVecs":2,"dropout":false,"rowsPerThread":4,"storePre":false,"transA":false,"transB":false,"vecB":true,"vecC":true,"workgroupSize":16}
enable subgroups;
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
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> C: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> bias: array<vec4<f32>>;


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


fn load_a(base: u32, m: u32, k: u32) -> f32 {
  return A[base + m * params.K + k];
}

/** Logical B[k, n..n+3]. */
fn load_b(base: u32, k: u32, n: u32) -> vec4<f32> {
  return B[(base + k * params.N + n) / 4u];
}

/** Logical B[k..k+3, n..n+3]; column i of the matrix is row k + i. */
fn load_b4(base: u32, k: u32, n: u32) -> mat4x4<f32> {
  return mat4x4<f32>(load_b(base, k, n), load_b(base, k + 1u, n), load_b(base, k + 2u, n), load_b(base, k + 3u, n));
}

fn load_c(base: u32, m: u32, n: u32) -> vec4<f32> {
  return C[(base + m * params.N + n) / 4u];
}

fn store_c(base: u32, m: u32, n: u32, value: vec4<f32>) {
  C[(base + m * params.N + n) / 4u] = value;
}



fn load_bias(n: u32) -> vec4<f32> {
  let base = 0u;
  let m = 0u;
  return bias[(base + m * params.N + n) / 4u];
}

fn epilogue(base: u32, m: u32, n: u32, acc: vec4<f32>) {
  var z = acc;
  z = z + load_bias(n);
  z = relu4(z);
  store_c(base, m, n, z);
}

@compute @workgroup_size(16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) sid: u32) {
  let m_first = wid.x * 4u;
  let last_m = params.M - 1u;
  let baseA = wid.z * params.stride_a;
  let baseB = wid.z * params.stride_b;
  let baseC = wid.z * params.stride_c;
  let lane = min(sid, 7u);
  let n0 = (wid.y * 32u + 0u + lid.x) * 4u;
  // Threads past the last column compute column 0 (valid addresses) and store nothing.
  let n_load0 = select(n0, 0u, n0 >= params.N);
  let n1 = (wid.y * 32u + 16u + lid.x) * 4u;
  // Threads past the last column compute column 0 (valid addresses) and store nothing.
  let n_load1 = select(n1, 0u, n1 >= params.N);
  let m0 = min(m_first + 0u, last_m);
  let m1 = min(m_first + 1u, last_m);
  let m2 = min(m_first + 2u, last_m);
  let m3 = min(m_first + 3u, last_m);
  var acc0_0 = vec4<f32>(0.0);
  var acc0_1 = vec4<f32>(0.0);
  var acc1_0 = vec4<f32>(0.0);
  var acc1_1 = vec4<f32>(0.0);
  var acc2_0 = vec4<f32>(0.0);
  var acc2_1 = vec4<f32>(0.0);
  var acc3_0 = vec4<f32>(0.0);
  var acc3_1 = vec4<f32>(0.0);
  let k_main = params.K - params.K % 8u;
  var k = 0u;
  for (; k < k_main; k += 8u) {
    let av0 = A[baseA + m0 * params.K + k + lane];
    let av1 = A[baseA + m1 * params.K + k + lane];
    let av2 = A[baseA + m2 * params.K + k + lane];
    let av3 = A[baseA + m3 * params.K + k + lane];
    let a0_0 = subgroupBroadcast(av0, 0u);
    let a0_1 = subgroupBroadcast(av0, 1u);
    let a0_2 = subgroupBroadcast(av0, 2u);
    let a0_3 = subgroupBroadcast(av0, 3u);
    let a0_4 = subgroupBroadcast(av0, 4u);
    let a0_5 = subgroupBroadcast(av0, 5u);
    let a0_6 = subgroupBroadcast(av0, 6u);
    let a0_7 = subgroupBroadcast(av0, 7u);
    let a1_0 = subgroupBroadcast(av1, 0u);
    let a1_1 = subgroupBroadcast(av1, 1u);
    let a1_2 = subgroupBroadcast(av1, 2u);
    let a1_3 = subgroupBroadcast(av1, 3u);
    let a1_4 = subgroupBroadcast(av1, 4u);
    let a1_5 = subgroupBroadcast(av1, 5u);
    let a1_6 = subgroupBroadcast(av1, 6u);
    let a1_7 = subgroupBroadcast(av1, 7u);
    let a2_0 = subgroupBroadcast(av2, 0u);
    let a2_1 = subgroupBroadcast(av2, 1u);
    let a2_2 = subgroupBroadcast(av2, 2u);
    let a2_3 = subgroupBroadcast(av2, 3u);
    let a2_4 = subgroupBroadcast(av2, 4u);
    let a2_5 = subgroupBroadcast(av2, 5u);
    let a2_6 = subgroupBroadcast(av2, 6u);
    let a2_7 = subgroupBroadcast(av2, 7u);
    let a3_0 = subgroupBroadcast(av3, 0u);
    let a3_1 = subgroupBroadcast(av3, 1u);
    let a3_2 = subgroupBroadcast(av3, 2u);
    let a3_3 = subgroupBroadcast(av3, 3u);
    let a3_4 = subgroupBroadcast(av3, 4u);
    let a3_5 = subgroupBroadcast(av3, 5u);
    let a3_6 = subgroupBroadcast(av3, 6u);
    let a3_7 = subgroupBroadcast(av3, 7u);
    let b0_0 = load_b4(baseB, k + 0u, n_load0);
    let b1_0 = load_b4(baseB, k + 0u, n_load1);
    { let a = vec4<f32>(a0_0);
      acc0_0 = fma(a, b0_0[0], acc0_0);
      acc0_1 = fma(a, b1_0[0], acc0_1);
    }
    { let a = vec4<f32>(a1_0);
      acc1_0 = fma(a, b0_0[0], acc1_0);
      acc1_1 = fma(a, b1_0[0], acc1_1);
    }
    { let a = vec4<f32>(a2_0);
      acc2_0 = fma(a, b0_0[0], acc2_0);
      acc2_1 = fma(a, b1_0[0], acc2_1);
    }
    { let a = vec4<f32>(a3_0);
      acc3_0 = fma(a, b0_0[0], acc3_0);
      acc3_1 = fma(a, b1_0[0], acc3_1);
    }
    { let a = vec4<f32>(a0_1);
      acc0_0 = fma(a, b0_0[1], acc0_0);
      acc0_1 = fma(a, b1_0[1], acc0_1);
    }
    { let a = vec4<f32>(a1_1);
      acc1_0 = fma(a, b0_0[1], acc1_0);
      acc1_1 = fma(a, b1_0[1], acc1_1);
    }
    { let a = vec4<f32>(a2_1);
      acc2_0 = fma(a, b0_0[1], acc2_0);
      acc2_1 = fma(a, b1_0[1], acc2_1);
    }
    { let a = vec4<f32>(a3_1);
      acc3_0 = fma(a, b0_0[1], acc3_0);
      acc3_1 = fma(a, b1_0[1], acc3_1);
    }
    { let a = vec4<f32>(a0_2);
      acc0_0 = fma(a, b0_0[2], acc0_0);
      acc0_1 = fma(a, b1_0[2], acc0_1);
    }
    { let a = vec4<f32>(a1_2);
      acc1_0 = fma(a, b0_0[2], acc1_0);
      acc1_1 = fma(a, b1_0[2], acc1_1);
    }
    { let a = vec4<f32>(a2_2);
      acc2_0 = fma(a, b0_0[2], acc2_0);
      acc2_1 = fma(a, b1_0[2], acc2_1);
    }
    { let a = vec4<f32>(a3_2);
      acc3_0 = fma(a, b0_0[2], acc3_0);
      acc3_1 = fma(a, b1_0[2], acc3_1);
    }
    { let a = vec4<f32>(a0_3);
      acc0_0 = fma(a, b0_0[3], acc0_0);
      acc0_1 = fma(a, b1_0[3], acc0_1);
    }
    { let a = vec4<f32>(a1_3);
      acc1_0 = fma(a, b0_0[3], acc1_0);
      acc1_1 = fma(a, b1_0[3], acc1_1);
    }
    { let a = vec4<f32>(a2_3);
      acc2_0 = fma(a, b0_0[3], acc2_0);
      acc2_1 = fma(a, b1_0[3], acc2_1);
    }
    { let a = vec4<f32>(a3_3);
      acc3_0 = fma(a, b0_0[3], acc3_0);
      acc3_1 = fma(a, b1_0[3], acc3_1);
    }
    let b0_4 = load_b4(baseB, k + 4u, n_load0);
    let b1_4 = load_b4(baseB, k + 4u, n_load1);
    { let a = vec4<f32>(a0_4);
      acc0_0 = fma(a, b0_4[0], acc0_0);
      acc0_1 = fma(a, b1_4[0], acc0_1);
    }
    { let a = vec4<f32>(a1_4);
      acc1_0 = fma(a, b0_4[0], acc1_0);
      acc1_1 = fma(a, b1_4[0], acc1_1);
    }
    { let a = vec4<f32>(a2_4);
      acc2_0 = fma(a, b0_4[0], acc2_0);
      acc2_1 = fma(a, b1_4[0], acc2_1);
    }
    { let a = vec4<f32>(a3_4);
      acc3_0 = fma(a, b0_4[0], acc3_0);
      acc3_1 = fma(a, b1_4[0], acc3_1);
    }
    { let a = vec4<f32>(a0_5);
      acc0_0 = fma(a, b0_4[1], acc0_0);
      acc0_1 = fma(a, b1_4[1], acc0_1);
    }
    { let a = vec4<f32>(a1_5);
      acc1_0 = fma(a, b0_4[1], acc1_0);
      acc1_1 = fma(a, b1_4[1], acc1_1);
    }
    { let a = vec4<f32>(a2_5);
      acc2_0 = fma(a, b0_4[1], acc2_0);
      acc2_1 = fma(a, b1_4[1], acc2_1);
    }
    { let a = vec4<f32>(a3_5);
      acc3_0 = fma(a, b0_4[1], acc3_0);
      acc3_1 = fma(a, b1_4[1], acc3_1);
    }
    { let a = vec4<f32>(a0_6);
      acc0_0 = fma(a, b0_4[2], acc0_0);
      acc0_1 = fma(a, b1_4[2], acc0_1);
    }
    { let a = vec4<f32>(a1_6);
      acc1_0 = fma(a, b0_4[2], acc1_0);
      acc1_1 = fma(a, b1_4[2], acc1_1);
    }
    { let a = vec4<f32>(a2_6);
      acc2_0 = fma(a, b0_4[2], acc2_0);
      acc2_1 = fma(a, b1_4[2], acc2_1);
    }
    { let a = vec4<f32>(a3_6);
      acc3_0 = fma(a, b0_4[2], acc3_0);
      acc3_1 = fma(a, b1_4[2], acc3_1);
    }
    { let a = vec4<f32>(a0_7);
      acc0_0 = fma(a, b0_4[3], acc0_0);
      acc0_1 = fma(a, b1_4[3], acc0_1);
    }
    { let a = vec4<f32>(a1_7);
      acc1_0 = fma(a, b0_4[3], acc1_0);
      acc1_1 = fma(a, b1_4[3], acc1_1);
    }
    { let a = vec4<f32>(a2_7);
      acc2_0 = fma(a, b0_4[3], acc2_0);
      acc2_1 = fma(a, b1_4[3], acc2_1);
    }
    { let a = vec4<f32>(a3_7);
      acc3_0 = fma(a, b0_4[3], acc3_0);
      acc3_1 = fma(a, b1_4[3], acc3_1);
    }
  }
  for (; k < params.K; k++) {
    let b0 = load_b(baseB, k, n_load0);
    let b1 = load_b(baseB, k, n_load1);
    { let a = vec4<f32>(load_a(baseA, m0, k));
      acc0_0 = fma(a, b0, acc0_0);
      acc0_1 = fma(a, b1, acc0_1);
    }
    { let a = vec4<f32>(load_a(baseA, m1, k));
      acc1_0 = fma(a, b0, acc1_0);
      acc1_1 = fma(a, b1, acc1_1);
    }
    { let a = vec4<f32>(load_a(baseA, m2, k));
      acc2_0 = fma(a, b0, acc2_0);
      acc2_1 = fma(a, b1, acc2_1);
    }
    { let a = vec4<f32>(load_a(baseA, m3, k));
      acc3_0 = fma(a, b0, acc3_0);
      acc3_1 = fma(a, b1, acc3_1);
    }
  }
  if (m_first + 0u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 0u, n0, acc0_0);
  }
  if (m_first + 0u < params.M && n1 < params.N) {
    epilogue(baseC, m_first + 0u, n1, acc0_1);
  }
  if (m_first + 1u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 1u, n0, acc1_0);
  }
  if (m_first + 1u < params.M && n1 < params.N) {
    epilogue(baseC, m_first + 1u, n1, acc1_1);
  }
  if (m_first + 2u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 2u, n0, acc2_0);
  }
  if (m_first + 2u < params.M && n1 < params.N) {
    epilogue(baseC, m_first + 2u, n1, acc2_1);
  }
  if (m_first + 3u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 3u, n0, acc3_0);
  }
  if (m_first + 3u < params.M && n1 < params.N) {
    epilogue(baseC, m_first + 3u, n1, acc3_1);
  }
}
