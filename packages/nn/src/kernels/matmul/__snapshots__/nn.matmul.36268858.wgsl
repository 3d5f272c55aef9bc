// nn.matmul {"aLoad":"vec4","accumulate":false,"activation":"gelu","bias":true,"colVecs":2,"dropout":true,"rowsPerThread":4,"storePre":true,"transA":false,"transB":true,"vecB":true,"vecC":true,"workgroupSize":16}
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
@group(0) @binding(4) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> pre: array<vec4<f32>>;

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


fn load_a(base: u32, m: u32, k: u32) -> f32 {
  let i = base + m * params.K + k;
  return A[i / 4u][i % 4u];
}

/** Logical B[k, n..n+3]. */
fn load_b(base: u32, k: u32, n: u32) -> vec4<f32> {
  let last = params.N - 1u;
  return vec4<f32>(B[(base + min(n + 0u, last) * params.K + k) / 4u][(base + min(n + 0u, last) * params.K + k) % 4u], B[(base + min(n + 1u, last) * params.K + k) / 4u][(base + min(n + 1u, last) * params.K + k) % 4u], B[(base + min(n + 2u, last) * params.K + k) / 4u][(base + min(n + 2u, last) * params.K + k) % 4u], B[(base + min(n + 3u, last) * params.K + k) / 4u][(base + min(n + 3u, last) * params.K + k) % 4u]);
}

/** Logical B[k..k+3, n..n+3]; column i of the matrix is row k + i. */
fn load_b4(base: u32, k: u32, n: u32) -> mat4x4<f32> {
  let last = params.N - 1u;
  let c0 = B[(base + min(n + 0u, last) * params.K + k) / 4u];
  let c1 = B[(base + min(n + 1u, last) * params.K + k) / 4u];
  let c2 = B[(base + min(n + 2u, last) * params.K + k) / 4u];
  let c3 = B[(base + min(n + 3u, last) * params.K + k) / 4u];
  return mat4x4<f32>(vec4<f32>(c0.x, c1.x, c2.x, c3.x), vec4<f32>(c0.y, c1.y, c2.y, c3.y), vec4<f32>(c0.z, c1.z, c2.z, c3.z), vec4<f32>(c0.w, c1.w, c2.w, c3.w));
}

fn load_c(base: u32, m: u32, n: u32) -> vec4<f32> {
  return C[(base + m * params.N + n) / 4u];
}

fn store_c(base: u32, m: u32, n: u32, value: vec4<f32>) {
  C[(base + m * params.N + n) / 4u] = value;
}

fn store_pre(base: u32, m: u32, n: u32, value: vec4<f32>) {
  pre[(base + m * params.N + n) / 4u] = value;
}

fn load_bias(n: u32) -> vec4<f32> {
  let base = 0u;
  let m = 0u;
  return bias[(base + m * params.N + n) / 4u];
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

@compute @workgroup_size(16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m_first = wid.x * 4u;
  let last_m = params.M - 1u;
  let baseA = wid.z * params.stride_a;
  let baseB = wid.z * params.stride_b;
  let baseC = wid.z * params.stride_c;
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
  let k_main = params.K - params.K % 4u;
  var k = 0u;
  for (; k < k_main; k += 4u) {
    let a0 = A[(baseA + m0 * params.K + k) / 4u];
    let a1 = A[(baseA + m1 * params.K + k) / 4u];
    let a2 = A[(baseA + m2 * params.K + k) / 4u];
    let a3 = A[(baseA + m3 * params.K + k) / 4u];
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
