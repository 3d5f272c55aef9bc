// nn.matmul {"aLoad":"scalar","accumulate":true,"activation":"none","bias":false,"colVecs":2,"dropout":false,"rowsPerThread":4,"storePre":false,"transA":true,"transB":false,"vecB":false,"vecC":false,"workgroupSize":8}
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



fn load_a(base: u32, m: u32, k: u32) -> f32 {
  return A[base + k * params.M + m];
}

/** Logical B[k, n..n+3]. */
fn load_b(base: u32, k: u32, n: u32) -> vec4<f32> {
  let row = base + k * params.N;
  let last = params.N - 1u;
  return vec4<f32>(B[row + min(n, last)], B[row + min(n + 1u, last)], B[row + min(n + 2u, last)], B[row + min(n + 3u, last)]);
}

/** Logical B[k..k+3, n..n+3]; column i of the matrix is row k + i. */
fn load_b4(base: u32, k: u32, n: u32) -> mat4x4<f32> {
  return mat4x4<f32>(load_b(base, k, n), load_b(base, k + 1u, n), load_b(base, k + 2u, n), load_b(base, k + 3u, n));
}

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





fn epilogue(base: u32, m: u32, n: u32, acc: vec4<f32>) {
  var z = acc;
  z = z + load_c(base, m, n);
  store_c(base, m, n, z);
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m_first = wid.x * 4u;
  let last_m = params.M - 1u;
  let baseA = wid.z * params.stride_a;
  let baseB = wid.z * params.stride_b;
  let baseC = wid.z * params.stride_c;
  let n0 = (wid.y * 16u + 0u + lid.x) * 4u;
  // Threads past the last column compute column 0 (valid addresses) and store nothing.
  let n_load0 = select(n0, 0u, n0 >= params.N);
  let n1 = (wid.y * 16u + 8u + lid.x) * 4u;
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
  let k_main = params.K - params.K % 4u;
  var k = 0u;
  for (; k < k_main; k += 4u) {
    let a0 = vec4<f32>(load_a(baseA, m0, k + 0u), load_a(baseA, m0, k + 1u), load_a(baseA, m0, k + 2u), load_a(baseA, m0, k + 3u));
    let a1 = vec4<f32>(load_a(baseA, m1, k + 0u), load_a(baseA, m1, k + 1u), load_a(baseA, m1, k + 2u), load_a(baseA, m1, k + 3u));
    let a2 = vec4<f32>(load_a(baseA, m2, k + 0u), load_a(baseA, m2, k + 1u), load_a(baseA, m2, k + 2u), load_a(baseA, m2, k + 3u));
    let a3 = vec4<f32>(load_a(baseA, m3, k + 0u), load_a(baseA, m3, k + 1u), load_a(baseA, m3, k + 2u), load_a(baseA, m3, k + 3u));
    let b0_0 = load_b4(baseB, k + 0u, n_load0);
    let b1_0 = load_b4(baseB, k + 0u, n_load1);
    { let a = vec4<f32>(a0[0]);
      acc0_0 = fma(a, b0_0[0], acc0_0);
      acc0_1 = fma(a, b1_0[0], acc0_1);
    }
    { let a = vec4<f32>(a1[0]);
      acc1_0 = fma(a, b0_0[0], acc1_0);
      acc1_1 = fma(a, b1_0[0], acc1_1);
    }
    { let a = vec4<f32>(a2[0]);
      acc2_0 = fma(a, b0_0[0], acc2_0);
      acc2_1 = fma(a, b1_0[0], acc2_1);
    }
    { let a = vec4<f32>(a3[0]);
      acc3_0 = fma(a, b0_0[0], acc3_0);
      acc3_1 = fma(a, b1_0[0], acc3_1);
    }
    { let a = vec4<f32>(a0[1]);
      acc0_0 = fma(a, b0_0[1], acc0_0);
      acc0_1 = fma(a, b1_0[1], acc0_1);
    }
    { let a = vec4<f32>(a1[1]);
      acc1_0 = fma(a, b0_0[1], acc1_0);
      acc1_1 = fma(a, b1_0[1], acc1_1);
    }
    { let a = vec4<f32>(a2[1]);
      acc2_0 = fma(a, b0_0[1], acc2_0);
      acc2_1 = fma(a, b1_0[1], acc2_1);
    }
    { let a = vec4<f32>(a3[1]);
      acc3_0 = fma(a, b0_0[1], acc3_0);
      acc3_1 = fma(a, b1_0[1], acc3_1);
    }
    { let a = vec4<f32>(a0[2]);
      acc0_0 = fma(a, b0_0[2], acc0_0);
      acc0_1 = fma(a, b1_0[2], acc0_1);
    }
    { let a = vec4<f32>(a1[2]);
      acc1_0 = fma(a, b0_0[2], acc1_0);
      acc1_1 = fma(a, b1_0[2], acc1_1);
    }
    { let a = vec4<f32>(a2[2]);
      acc2_0 = fma(a, b0_0[2], acc2_0);
      acc2_1 = fma(a, b1_0[2], acc2_1);
    }
    { let a = vec4<f32>(a3[2]);
      acc3_0 = fma(a, b0_0[2], acc3_0);
      acc3_1 = fma(a, b1_0[2], acc3_1);
    }
    { let a = vec4<f32>(a0[3]);
      acc0_0 = fma(a, b0_0[3], acc0_0);
      acc0_1 = fma(a, b1_0[3], acc0_1);
    }
    { let a = vec4<f32>(a1[3]);
      acc1_0 = fma(a, b0_0[3], acc1_0);
      acc1_1 = fma(a, b1_0[3], acc1_1);
    }
    { let a = vec4<f32>(a2[3]);
      acc2_0 = fma(a, b0_0[3], acc2_0);
      acc2_1 = fma(a, b1_0[3], acc2_1);
    }
    { let a = vec4<f32>(a3[3]);
      acc3_0 = fma(a, b0_0[3], acc3_0);
      acc3_1 = fma(a, b1_0[3], acc3_1);
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
