// nn.matmul {"aLoad":"subgroup","accumulate":true,"activation":"none","bias":false,"colVecs":1,"dropout":false,"rowsPerThread":16,"storePre":false,"transA":true,"transB":false,"vecB":true,"vecC":true,"workgroupSize":16}
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



fn load_a(base: u32, m: u32, k: u32) -> f32 {
  return A[base + k * params.M + m];
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





fn epilogue(base: u32, m: u32, n: u32, acc: vec4<f32>) {
  var z = acc;
  z = z + load_c(base, m, n);
  store_c(base, m, n, z);
}

@compute @workgroup_size(16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) sid: u32) {
  let m_first = wid.x * 16u;
  let last_m = params.M - 1u;
  let baseA = wid.z * params.stride_a;
  let baseB = wid.z * params.stride_b;
  let baseC = wid.z * params.stride_c;
  let lane = min(sid, 7u);
  let n0 = (wid.y * 16u + 0u + lid.x) * 4u;
  // Threads past the last column compute column 0 (valid addresses) and store nothing.
  let n_load0 = select(n0, 0u, n0 >= params.N);
  let m0 = min(m_first + 0u, last_m);
  let m1 = min(m_first + 1u, last_m);
  let m2 = min(m_first + 2u, last_m);
  let m3 = min(m_first + 3u, last_m);
  let m4 = min(m_first + 4u, last_m);
  let m5 = min(m_first + 5u, last_m);
  let m6 = min(m_first + 6u, last_m);
  let m7 = min(m_first + 7u, last_m);
  let m8 = min(m_first + 8u, last_m);
  let m9 = min(m_first + 9u, last_m);
  let m10 = min(m_first + 10u, last_m);
  let m11 = min(m_first + 11u, last_m);
  let m12 = min(m_first + 12u, last_m);
  let m13 = min(m_first + 13u, last_m);
  let m14 = min(m_first + 14u, last_m);
  let m15 = min(m_first + 15u, last_m);
  var acc0_0 = vec4<f32>(0.0);
  var acc1_0 = vec4<f32>(0.0);
  var acc2_0 = vec4<f32>(0.0);
  var acc3_0 = vec4<f32>(0.0);
  var acc4_0 = vec4<f32>(0.0);
  var acc5_0 = vec4<f32>(0.0);
  var acc6_0 = vec4<f32>(0.0);
  var acc7_0 = vec4<f32>(0.0);
  var acc8_0 = vec4<f32>(0.0);
  var acc9_0 = vec4<f32>(0.0);
  var acc10_0 = vec4<f32>(0.0);
  var acc11_0 = vec4<f32>(0.0);
  var acc12_0 = vec4<f32>(0.0);
  var acc13_0 = vec4<f32>(0.0);
  var acc14_0 = vec4<f32>(0.0);
  var acc15_0 = vec4<f32>(0.0);
  let k_main = params.K - params.K % 8u;
  var k = 0u;
  for (; k < k_main; k += 8u) {
    let av0 = A[baseA + (k + lane) * params.M + m0];
    let av1 = A[baseA + (k + lane) * params.M + m1];
    let av2 = A[baseA + (k + lane) * params.M + m2];
    let av3 = A[baseA + (k + lane) * params.M + m3];
    let av4 = A[baseA + (k + lane) * params.M + m4];
    let av5 = A[baseA + (k + lane) * params.M + m5];
    let av6 = A[baseA + (k + lane) * params.M + m6];
    let av7 = A[baseA + (k + lane) * params.M + m7];
    let av8 = A[baseA + (k + lane) * params.M + m8];
    let av9 = A[baseA + (k + lane) * params.M + m9];
    let av10 = A[baseA + (k + lane) * params.M + m10];
    let av11 = A[baseA + (k + lane) * params.M + m11];
    let av12 = A[baseA + (k + lane) * params.M + m12];
    let av13 = A[baseA + (k + lane) * params.M + m13];
    let av14 = A[baseA + (k + lane) * params.M + m14];
    let av15 = A[baseA + (k + lane) * params.M + m15];
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
    let a4_0 = subgroupBroadcast(av4, 0u);
    let a4_1 = subgroupBroadcast(av4, 1u);
    let a4_2 = subgroupBroadcast(av4, 2u);
    let a4_3 = subgroupBroadcast(av4, 3u);
    let a4_4 = subgroupBroadcast(av4, 4u);
    let a4_5 = subgroupBroadcast(av4, 5u);
    let a4_6 = subgroupBroadcast(av4, 6u);
    let a4_7 = subgroupBroadcast(av4, 7u);
    let a5_0 = subgroupBroadcast(av5, 0u);
    let a5_1 = subgroupBroadcast(av5, 1u);
    let a5_2 = subgroupBroadcast(av5, 2u);
    let a5_3 = subgroupBroadcast(av5, 3u);
    let a5_4 = subgroupBroadcast(av5, 4u);
    let a5_5 = subgroupBroadcast(av5, 5u);
    let a5_6 = subgroupBroadcast(av5, 6u);
    let a5_7 = subgroupBroadcast(av5, 7u);
    let a6_0 = subgroupBroadcast(av6, 0u);
    let a6_1 = subgroupBroadcast(av6, 1u);
    let a6_2 = subgroupBroadcast(av6, 2u);
    let a6_3 = subgroupBroadcast(av6, 3u);
    let a6_4 = subgroupBroadcast(av6, 4u);
    let a6_5 = subgroupBroadcast(av6, 5u);
    let a6_6 = subgroupBroadcast(av6, 6u);
    let a6_7 = subgroupBroadcast(av6, 7u);
    let a7_0 = subgroupBroadcast(av7, 0u);
    let a7_1 = subgroupBroadcast(av7, 1u);
    let a7_2 = subgroupBroadcast(av7, 2u);
    let a7_3 = subgroupBroadcast(av7, 3u);
    let a7_4 = subgroupBroadcast(av7, 4u);
    let a7_5 = subgroupBroadcast(av7, 5u);
    let a7_6 = subgroupBroadcast(av7, 6u);
    let a7_7 = subgroupBroadcast(av7, 7u);
    let a8_0 = subgroupBroadcast(av8, 0u);
    let a8_1 = subgroupBroadcast(av8, 1u);
    let a8_2 = subgroupBroadcast(av8, 2u);
    let a8_3 = subgroupBroadcast(av8, 3u);
    let a8_4 = subgroupBroadcast(av8, 4u);
    let a8_5 = subgroupBroadcast(av8, 5u);
    let a8_6 = subgroupBroadcast(av8, 6u);
    let a8_7 = subgroupBroadcast(av8, 7u);
    let a9_0 = subgroupBroadcast(av9, 0u);
    let a9_1 = subgroupBroadcast(av9, 1u);
    let a9_2 = subgroupBroadcast(av9, 2u);
    let a9_3 = subgroupBroadcast(av9, 3u);
    let a9_4 = subgroupBroadcast(av9, 4u);
    let a9_5 = subgroupBroadcast(av9, 5u);
    let a9_6 = subgroupBroadcast(av9, 6u);
    let a9_7 = subgroupBroadcast(av9, 7u);
    let a10_0 = subgroupBroadcast(av10, 0u);
    let a10_1 = subgroupBroadcast(av10, 1u);
    let a10_2 = subgroupBroadcast(av10, 2u);
    let a10_3 = subgroupBroadcast(av10, 3u);
    let a10_4 = subgroupBroadcast(av10, 4u);
    let a10_5 = subgroupBroadcast(av10, 5u);
    let a10_6 = subgroupBroadcast(av10, 6u);
    let a10_7 = subgroupBroadcast(av10, 7u);
    let a11_0 = subgroupBroadcast(av11, 0u);
    let a11_1 = subgroupBroadcast(av11, 1u);
    let a11_2 = subgroupBroadcast(av11, 2u);
    let a11_3 = subgroupBroadcast(av11, 3u);
    let a11_4 = subgroupBroadcast(av11, 4u);
    let a11_5 = subgroupBroadcast(av11, 5u);
    let a11_6 = subgroupBroadcast(av11, 6u);
    let a11_7 = subgroupBroadcast(av11, 7u);
    let a12_0 = subgroupBroadcast(av12, 0u);
    let a12_1 = subgroupBroadcast(av12, 1u);
    let a12_2 = subgroupBroadcast(av12, 2u);
    let a12_3 = subgroupBroadcast(av12, 3u);
    let a12_4 = subgroupBroadcast(av12, 4u);
    let a12_5 = subgroupBroadcast(av12, 5u);
    let a12_6 = subgroupBroadcast(av12, 6u);
    let a12_7 = subgroupBroadcast(av12, 7u);
    let a13_0 = subgroupBroadcast(av13, 0u);
    let a13_1 = subgroupBroadcast(av13, 1u);
    let a13_2 = subgroupBroadcast(av13, 2u);
    let a13_3 = subgroupBroadcast(av13, 3u);
    let a13_4 = subgroupBroadcast(av13, 4u);
    let a13_5 = subgroupBroadcast(av13, 5u);
    let a13_6 = subgroupBroadcast(av13, 6u);
    let a13_7 = subgroupBroadcast(av13, 7u);
    let a14_0 = subgroupBroadcast(av14, 0u);
    let a14_1 = subgroupBroadcast(av14, 1u);
    let a14_2 = subgroupBroadcast(av14, 2u);
    let a14_3 = subgroupBroadcast(av14, 3u);
    let a14_4 = subgroupBroadcast(av14, 4u);
    let a14_5 = subgroupBroadcast(av14, 5u);
    let a14_6 = subgroupBroadcast(av14, 6u);
    let a14_7 = subgroupBroadcast(av14, 7u);
    let a15_0 = subgroupBroadcast(av15, 0u);
    let a15_1 = subgroupBroadcast(av15, 1u);
    let a15_2 = subgroupBroadcast(av15, 2u);
    let a15_3 = subgroupBroadcast(av15, 3u);
    let a15_4 = subgroupBroadcast(av15, 4u);
    let a15_5 = subgroupBroadcast(av15, 5u);
    let a15_6 = subgroupBroadcast(av15, 6u);
    let a15_7 = subgroupBroadcast(av15, 7u);
    let b0_0 = load_b4(baseB, k + 0u, n_load0);
    { let a = vec4<f32>(a0_0);
      acc0_0 = fma(a, b0_0[0], acc0_0);
    }
    { let a = vec4<f32>(a1_0);
      acc1_0 = fma(a, b0_0[0], acc1_0);
    }
    { let a = vec4<f32>(a2_0);
      acc2_0 = fma(a, b0_0[0], acc2_0);
    }
    { let a = vec4<f32>(a3_0);
      acc3_0 = fma(a, b0_0[0], acc3_0);
    }
    { let a = vec4<f32>(a4_0);
      acc4_0 = fma(a, b0_0[0], acc4_0);
    }
    { let a = vec4<f32>(a5_0);
      acc5_0 = fma(a, b0_0[0], acc5_0);
    }
    { let a = vec4<f32>(a6_0);
      acc6_0 = fma(a, b0_0[0], acc6_0);
    }
    { let a = vec4<f32>(a7_0);
      acc7_0 = fma(a, b0_0[0], acc7_0);
    }
    { let a = vec4<f32>(a8_0);
      acc8_0 = fma(a, b0_0[0], acc8_0);
    }
    { let a = vec4<f32>(a9_0);
      acc9_0 = fma(a, b0_0[0], acc9_0);
    }
    { let a = vec4<f32>(a10_0);
      acc10_0 = fma(a, b0_0[0], acc10_0);
    }
    { let a = vec4<f32>(a11_0);
      acc11_0 = fma(a, b0_0[0], acc11_0);
    }
    { let a = vec4<f32>(a12_0);
      acc12_0 = fma(a, b0_0[0], acc12_0);
    }
    { let a = vec4<f32>(a13_0);
      acc13_0 = fma(a, b0_0[0], acc13_0);
    }
    { let a = vec4<f32>(a14_0);
      acc14_0 = fma(a, b0_0[0], acc14_0);
    }
    { let a = vec4<f32>(a15_0);
      acc15_0 = fma(a, b0_0[0], acc15_0);
    }
    { let a = vec4<f32>(a0_1);
      acc0_0 = fma(a, b0_0[1], acc0_0);
    }
    { let a = vec4<f32>(a1_1);
      acc1_0 = fma(a, b0_0[1], acc1_0);
    }
    { let a = vec4<f32>(a2_1);
      acc2_0 = fma(a, b0_0[1], acc2_0);
    }
    { let a = vec4<f32>(a3_1);
      acc3_0 = fma(a, b0_0[1], acc3_0);
    }
    { let a = vec4<f32>(a4_1);
      acc4_0 = fma(a, b0_0[1], acc4_0);
    }
    { let a = vec4<f32>(a5_1);
      acc5_0 = fma(a, b0_0[1], acc5_0);
    }
    { let a = vec4<f32>(a6_1);
      acc6_0 = fma(a, b0_0[1], acc6_0);
    }
    { let a = vec4<f32>(a7_1);
      acc7_0 = fma(a, b0_0[1], acc7_0);
    }
    { let a = vec4<f32>(a8_1);
      acc8_0 = fma(a, b0_0[1], acc8_0);
    }
    { let a = vec4<f32>(a9_1);
      acc9_0 = fma(a, b0_0[1], acc9_0);
    }
    { let a = vec4<f32>(a10_1);
      acc10_0 = fma(a, b0_0[1], acc10_0);
    }
    { let a = vec4<f32>(a11_1);
      acc11_0 = fma(a, b0_0[1], acc11_0);
    }
    { let a = vec4<f32>(a12_1);
      acc12_0 = fma(a, b0_0[1], acc12_0);
    }
    { let a = vec4<f32>(a13_1);
      acc13_0 = fma(a, b0_0[1], acc13_0);
    }
    { let a = vec4<f32>(a14_1);
      acc14_0 = fma(a, b0_0[1], acc14_0);
    }
    { let a = vec4<f32>(a15_1);
      acc15_0 = fma(a, b0_0[1], acc15_0);
    }
    { let a = vec4<f32>(a0_2);
      acc0_0 = fma(a, b0_0[2], acc0_0);
    }
    { let a = vec4<f32>(a1_2);
      acc1_0 = fma(a, b0_0[2], acc1_0);
    }
    { let a = vec4<f32>(a2_2);
      acc2_0 = fma(a, b0_0[2], acc2_0);
    }
    { let a = vec4<f32>(a3_2);
      acc3_0 = fma(a, b0_0[2], acc3_0);
    }
    { let a = vec4<f32>(a4_2);
      acc4_0 = fma(a, b0_0[2], acc4_0);
    }
    { let a = vec4<f32>(a5_2);
      acc5_0 = fma(a, b0_0[2], acc5_0);
    }
    { let a = vec4<f32>(a6_2);
      acc6_0 = fma(a, b0_0[2], acc6_0);
    }
    { let a = vec4<f32>(a7_2);
      acc7_0 = fma(a, b0_0[2], acc7_0);
    }
    { let a = vec4<f32>(a8_2);
      acc8_0 = fma(a, b0_0[2], acc8_0);
    }
    { let a = vec4<f32>(a9_2);
      acc9_0 = fma(a, b0_0[2], acc9_0);
    }
    { let a = vec4<f32>(a10_2);
      acc10_0 = fma(a, b0_0[2], acc10_0);
    }
    { let a = vec4<f32>(a11_2);
      acc11_0 = fma(a, b0_0[2], acc11_0);
    }
    { let a = vec4<f32>(a12_2);
      acc12_0 = fma(a, b0_0[2], acc12_0);
    }
    { let a = vec4<f32>(a13_2);
      acc13_0 = fma(a, b0_0[2], acc13_0);
    }
    { let a = vec4<f32>(a14_2);
      acc14_0 = fma(a, b0_0[2], acc14_0);
    }
    { let a = vec4<f32>(a15_2);
      acc15_0 = fma(a, b0_0[2], acc15_0);
    }
    { let a = vec4<f32>(a0_3);
      acc0_0 = fma(a, b0_0[3], acc0_0);
    }
    { let a = vec4<f32>(a1_3);
      acc1_0 = fma(a, b0_0[3], acc1_0);
    }
    { let a = vec4<f32>(a2_3);
      acc2_0 = fma(a, b0_0[3], acc2_0);
    }
    { let a = vec4<f32>(a3_3);
      acc3_0 = fma(a, b0_0[3], acc3_0);
    }
    { let a = vec4<f32>(a4_3);
      acc4_0 = fma(a, b0_0[3], acc4_0);
    }
    { let a = vec4<f32>(a5_3);
      acc5_0 = fma(a, b0_0[3], acc5_0);
    }
    { let a = vec4<f32>(a6_3);
      acc6_0 = fma(a, b0_0[3], acc6_0);
    }
    { let a = vec4<f32>(a7_3);
      acc7_0 = fma(a, b0_0[3], acc7_0);
    }
    { let a = vec4<f32>(a8_3);
      acc8_0 = fma(a, b0_0[3], acc8_0);
    }
    { let a = vec4<f32>(a9_3);
      acc9_0 = fma(a, b0_0[3], acc9_0);
    }
    { let a = vec4<f32>(a10_3);
      acc10_0 = fma(a, b0_0[3], acc10_0);
    }
    { let a = vec4<f32>(a11_3);
      acc11_0 = fma(a, b0_0[3], acc11_0);
    }
    { let a = vec4<f32>(a12_3);
      acc12_0 = fma(a, b0_0[3], acc12_0);
    }
    { let a = vec4<f32>(a13_3);
      acc13_0 = fma(a, b0_0[3], acc13_0);
    }
    { let a = vec4<f32>(a14_3);
      acc14_0 = fma(a, b0_0[3], acc14_0);
    }
    { let a = vec4<f32>(a15_3);
      acc15_0 = fma(a, b0_0[3], acc15_0);
    }
    let b0_4 = load_b4(baseB, k + 4u, n_load0);
    { let a = vec4<f32>(a0_4);
      acc0_0 = fma(a, b0_4[0], acc0_0);
    }
    { let a = vec4<f32>(a1_4);
      acc1_0 = fma(a, b0_4[0], acc1_0);
    }
    { let a = vec4<f32>(a2_4);
      acc2_0 = fma(a, b0_4[0], acc2_0);
    }
    { let a = vec4<f32>(a3_4);
      acc3_0 = fma(a, b0_4[0], acc3_0);
    }
    { let a = vec4<f32>(a4_4);
      acc4_0 = fma(a, b0_4[0], acc4_0);
    }
    { let a = vec4<f32>(a5_4);
      acc5_0 = fma(a, b0_4[0], acc5_0);
    }
    { let a = vec4<f32>(a6_4);
      acc6_0 = fma(a, b0_4[0], acc6_0);
    }
    { let a = vec4<f32>(a7_4);
      acc7_0 = fma(a, b0_4[0], acc7_0);
    }
    { let a = vec4<f32>(a8_4);
      acc8_0 = fma(a, b0_4[0], acc8_0);
    }
    { let a = vec4<f32>(a9_4);
      acc9_0 = fma(a, b0_4[0], acc9_0);
    }
    { let a = vec4<f32>(a10_4);
      acc10_0 = fma(a, b0_4[0], acc10_0);
    }
    { let a = vec4<f32>(a11_4);
      acc11_0 = fma(a, b0_4[0], acc11_0);
    }
    { let a = vec4<f32>(a12_4);
      acc12_0 = fma(a, b0_4[0], acc12_0);
    }
    { let a = vec4<f32>(a13_4);
      acc13_0 = fma(a, b0_4[0], acc13_0);
    }
    { let a = vec4<f32>(a14_4);
      acc14_0 = fma(a, b0_4[0], acc14_0);
    }
    { let a = vec4<f32>(a15_4);
      acc15_0 = fma(a, b0_4[0], acc15_0);
    }
    { let a = vec4<f32>(a0_5);
      acc0_0 = fma(a, b0_4[1], acc0_0);
    }
    { let a = vec4<f32>(a1_5);
      acc1_0 = fma(a, b0_4[1], acc1_0);
    }
    { let a = vec4<f32>(a2_5);
      acc2_0 = fma(a, b0_4[1], acc2_0);
    }
    { let a = vec4<f32>(a3_5);
      acc3_0 = fma(a, b0_4[1], acc3_0);
    }
    { let a = vec4<f32>(a4_5);
      acc4_0 = fma(a, b0_4[1], acc4_0);
    }
    { let a = vec4<f32>(a5_5);
      acc5_0 = fma(a, b0_4[1], acc5_0);
    }
    { let a = vec4<f32>(a6_5);
      acc6_0 = fma(a, b0_4[1], acc6_0);
    }
    { let a = vec4<f32>(a7_5);
      acc7_0 = fma(a, b0_4[1], acc7_0);
    }
    { let a = vec4<f32>(a8_5);
      acc8_0 = fma(a, b0_4[1], acc8_0);
    }
    { let a = vec4<f32>(a9_5);
      acc9_0 = fma(a, b0_4[1], acc9_0);
    }
    { let a = vec4<f32>(a10_5);
      acc10_0 = fma(a, b0_4[1], acc10_0);
    }
    { let a = vec4<f32>(a11_5);
      acc11_0 = fma(a, b0_4[1], acc11_0);
    }
    { let a = vec4<f32>(a12_5);
      acc12_0 = fma(a, b0_4[1], acc12_0);
    }
    { let a = vec4<f32>(a13_5);
      acc13_0 = fma(a, b0_4[1], acc13_0);
    }
    { let a = vec4<f32>(a14_5);
      acc14_0 = fma(a, b0_4[1], acc14_0);
    }
    { let a = vec4<f32>(a15_5);
      acc15_0 = fma(a, b0_4[1], acc15_0);
    }
    { let a = vec4<f32>(a0_6);
      acc0_0 = fma(a, b0_4[2], acc0_0);
    }
    { let a = vec4<f32>(a1_6);
      acc1_0 = fma(a, b0_4[2], acc1_0);
    }
    { let a = vec4<f32>(a2_6);
      acc2_0 = fma(a, b0_4[2], acc2_0);
    }
    { let a = vec4<f32>(a3_6);
      acc3_0 = fma(a, b0_4[2], acc3_0);
    }
    { let a = vec4<f32>(a4_6);
      acc4_0 = fma(a, b0_4[2], acc4_0);
    }
    { let a = vec4<f32>(a5_6);
      acc5_0 = fma(a, b0_4[2], acc5_0);
    }
    { let a = vec4<f32>(a6_6);
      acc6_0 = fma(a, b0_4[2], acc6_0);
    }
    { let a = vec4<f32>(a7_6);
      acc7_0 = fma(a, b0_4[2], acc7_0);
    }
    { let a = vec4<f32>(a8_6);
      acc8_0 = fma(a, b0_4[2], acc8_0);
    }
    { let a = vec4<f32>(a9_6);
      acc9_0 = fma(a, b0_4[2], acc9_0);
    }
    { let a = vec4<f32>(a10_6);
      acc10_0 = fma(a, b0_4[2], acc10_0);
    }
    { let a = vec4<f32>(a11_6);
      acc11_0 = fma(a, b0_4[2], acc11_0);
    }
    { let a = vec4<f32>(a12_6);
      acc12_0 = fma(a, b0_4[2], acc12_0);
    }
    { let a = vec4<f32>(a13_6);
      acc13_0 = fma(a, b0_4[2], acc13_0);
    }
    { let a = vec4<f32>(a14_6);
      acc14_0 = fma(a, b0_4[2], acc14_0);
    }
    { let a = vec4<f32>(a15_6);
      acc15_0 = fma(a, b0_4[2], acc15_0);
    }
    { let a = vec4<f32>(a0_7);
      acc0_0 = fma(a, b0_4[3], acc0_0);
    }
    { let a = vec4<f32>(a1_7);
      acc1_0 = fma(a, b0_4[3], acc1_0);
    }
    { let a = vec4<f32>(a2_7);
      acc2_0 = fma(a, b0_4[3], acc2_0);
    }
    { let a = vec4<f32>(a3_7);
      acc3_0 = fma(a, b0_4[3], acc3_0);
    }
    { let a = vec4<f32>(a4_7);
      acc4_0 = fma(a, b0_4[3], acc4_0);
    }
    { let a = vec4<f32>(a5_7);
      acc5_0 = fma(a, b0_4[3], acc5_0);
    }
    { let a = vec4<f32>(a6_7);
      acc6_0 = fma(a, b0_4[3], acc6_0);
    }
    { let a = vec4<f32>(a7_7);
      acc7_0 = fma(a, b0_4[3], acc7_0);
    }
    { let a = vec4<f32>(a8_7);
      acc8_0 = fma(a, b0_4[3], acc8_0);
    }
    { let a = vec4<f32>(a9_7);
      acc9_0 = fma(a, b0_4[3], acc9_0);
    }
    { let a = vec4<f32>(a10_7);
      acc10_0 = fma(a, b0_4[3], acc10_0);
    }
    { let a = vec4<f32>(a11_7);
      acc11_0 = fma(a, b0_4[3], acc11_0);
    }
    { let a = vec4<f32>(a12_7);
      acc12_0 = fma(a, b0_4[3], acc12_0);
    }
    { let a = vec4<f32>(a13_7);
      acc13_0 = fma(a, b0_4[3], acc13_0);
    }
    { let a = vec4<f32>(a14_7);
      acc14_0 = fma(a, b0_4[3], acc14_0);
    }
    { let a = vec4<f32>(a15_7);
      acc15_0 = fma(a, b0_4[3], acc15_0);
    }
  }
  for (; k < params.K; k++) {
    let b0 = load_b(baseB, k, n_load0);
    { let a = vec4<f32>(load_a(baseA, m0, k));
      acc0_0 = fma(a, b0, acc0_0);
    }
    { let a = vec4<f32>(load_a(baseA, m1, k));
      acc1_0 = fma(a, b0, acc1_0);
    }
    { let a = vec4<f32>(load_a(baseA, m2, k));
      acc2_0 = fma(a, b0, acc2_0);
    }
    { let a = vec4<f32>(load_a(baseA, m3, k));
      acc3_0 = fma(a, b0, acc3_0);
    }
    { let a = vec4<f32>(load_a(baseA, m4, k));
      acc4_0 = fma(a, b0, acc4_0);
    }
    { let a = vec4<f32>(load_a(baseA, m5, k));
      acc5_0 = fma(a, b0, acc5_0);
    }
    { let a = vec4<f32>(load_a(baseA, m6, k));
      acc6_0 = fma(a, b0, acc6_0);
    }
    { let a = vec4<f32>(load_a(baseA, m7, k));
      acc7_0 = fma(a, b0, acc7_0);
    }
    { let a = vec4<f32>(load_a(baseA, m8, k));
      acc8_0 = fma(a, b0, acc8_0);
    }
    { let a = vec4<f32>(load_a(baseA, m9, k));
      acc9_0 = fma(a, b0, acc9_0);
    }
    { let a = vec4<f32>(load_a(baseA, m10, k));
      acc10_0 = fma(a, b0, acc10_0);
    }
    { let a = vec4<f32>(load_a(baseA, m11, k));
      acc11_0 = fma(a, b0, acc11_0);
    }
    { let a = vec4<f32>(load_a(baseA, m12, k));
      acc12_0 = fma(a, b0, acc12_0);
    }
    { let a = vec4<f32>(load_a(baseA, m13, k));
      acc13_0 = fma(a, b0, acc13_0);
    }
    { let a = vec4<f32>(load_a(baseA, m14, k));
      acc14_0 = fma(a, b0, acc14_0);
    }
    { let a = vec4<f32>(load_a(baseA, m15, k));
      acc15_0 = fma(a, b0, acc15_0);
    }
  }
  if (m_first + 0u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 0u, n0, acc0_0);
  }
  if (m_first + 1u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 1u, n0, acc1_0);
  }
  if (m_first + 2u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 2u, n0, acc2_0);
  }
  if (m_first + 3u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 3u, n0, acc3_0);
  }
  if (m_first + 4u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 4u, n0, acc4_0);
  }
  if (m_first + 5u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 5u, n0, acc5_0);
  }
  if (m_first + 6u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 6u, n0, acc6_0);
  }
  if (m_first + 7u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 7u, n0, acc7_0);
  }
  if (m_first + 8u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 8u, n0, acc8_0);
  }
  if (m_first + 9u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 9u, n0, acc9_0);
  }
  if (m_first + 10u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 10u, n0, acc10_0);
  }
  if (m_first + 11u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 11u, n0, acc11_0);
  }
  if (m_first + 12u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 12u, n0, acc12_0);
  }
  if (m_first + 13u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 13u, n0, acc13_0);
  }
  if (m_first + 14u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 14u, n0, acc14_0);
  }
  if (m_first + 15u < params.M && n0 < params.N) {
    epilogue(baseC, m_first + 15u, n0, acc15_0);
  }
}
