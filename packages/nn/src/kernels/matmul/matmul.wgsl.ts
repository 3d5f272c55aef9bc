import { defineKernel, type BindingTable, type KernelContext } from '@distillery/webgpu/wgsl';
import { RANDOM_WGSL } from '../../random.js';
import { ACTIVATION_WGSL, type Activation } from '../activation-math.js';

/**
 * How a thread gets the A values it multiplies. Every thread of a workgroup needs the same A
 * element at the same time, so A is never a per-thread gather:
 * - `scalar`: one uniform scalar load per (row, k);
 * - `vec4`: one uniform vec4 load per 4 values (A's contiguous dimension must be a multiple of 4);
 * - `subgroup`: each of 8 subgroup lanes loads a different A element (one coalesced load for 8
 *   values) and `subgroupBroadcast` hands them to every lane. On lavapipe it measured no better
 *   than `vec4`, so it is opt-in.
 */
export type MatmulALoad = 'scalar' | 'vec4' | 'subgroup';

/**
 * What changes the WGSL text of a matmul. Sizes and batch strides are uniforms, so every layer of
 * a model with the same layout and epilogue shares one pipeline.
 */
export interface MatmulVariant {
  /** A is stored `[K, M]` (so the kernel reads Aᵀ). */
  transA: boolean;
  /** B is stored `[N, K]` (so the kernel reads Bᵀ). */
  transB: boolean;
  /** B is read as vec4: needs N % 4 == 0 (plain B) or K % 4 == 0 (Bᵀ). */
  vecB: boolean;
  /** N % 4 == 0: C, bias and pre-activation are read and written as vec4. */
  vecC: boolean;
  /** Adds `bias[N]` to every row. */
  bias: boolean;
  activation: Activation;
  /** Also writes the pre-activation `A·B + bias` (GELU's backward needs it). */
  storePre: boolean;
  /** Inverted dropout on the output, mask from (seed, step, element index). */
  dropout: boolean;
  /** C ← C + A·B instead of C ← A·B (gradient accumulation). */
  accumulate: boolean;
  /** Threads per workgroup along N. */
  workgroupSize: number;
  /** Rows of C per workgroup (and per thread). */
  rowsPerThread: number;
  /** vec4 column groups per thread: the register tile is rowsPerThread × 4·colVecs. */
  colVecs: number;
  aLoad: MatmulALoad;
}

/** k values consumed per main-loop iteration for each A strategy. */
export function matmulKBlock(v: Pick<MatmulVariant, 'aLoad'>): number {
  return v.aLoad === 'subgroup' ? 8 : 4;
}

/**
 * Batched C[b] = op(A[b]) · op(B[b]) (+ bias, activation, dropout), f32.
 *
 * The layout is chosen for how WebGPU runs on both GPUs and CPU rasterisers (lavapipe): a
 * workgroup owns `rowsPerThread` rows of C and each thread `colVecs` groups of 4 consecutive
 * columns (groups strided by the workgroup width, so neighbouring threads read neighbouring
 * vec4s of B — coalesced on a GPU). All threads need the same A element at the same time, so A
 * comes in by one of the `MatmulALoad` strategies, never as a per-thread gather. Each B vec4
 * feeds rowsPerThread FMAs; K advances 4 at a time with the 4×4 block of B transposed in
 * registers for Bᵀ.
 */
function matmulBody(v: MatmulVariant, k: KernelContext): string {
  const TM = v.rowsPerThread;
  const WG = v.workgroupSize;
  const CV = v.colVecs;
  const KB = matmulKBlock(v);
  const subgroups = v.aLoad === 'subgroup';
  const aType = v.aLoad === 'vec4' ? 'vec4<f32>' : 'f32';

  const aIndex = v.transA ? 'base + k * params.M + m' : 'base + m * params.K + k';
  const loadA = aType === 'vec4<f32>' ? `let i = ${aIndex};\n  return A[i / 4u][i % 4u];` : `return A[${aIndex}];`;

  let loadB: string;
  let loadB4: string;
  if (!v.transB) {
    loadB = v.vecB
      ? 'return B[(base + k * params.N + n) / 4u];'
      : `let row = base + k * params.N;
  let last = params.N - 1u;
  return vec4<f32>(B[row + min(n, last)], B[row + min(n + 1u, last)], B[row + min(n + 2u, last)], B[row + min(n + 3u, last)]);`;
    loadB4 = 'return mat4x4<f32>(load_b(base, k, n), load_b(base, k + 1u, n), load_b(base, k + 2u, n), load_b(base, k + 3u, n));';
  } else {
    const cols = [0, 1, 2, 3].map((i) => `min(n + ${i}u, last) * params.K`);
    loadB = v.vecB
      ? `let last = params.N - 1u;
  return vec4<f32>(${cols.map((c) => `B[(base + ${c} + k) / 4u][(base + ${c} + k) % 4u]`).join(', ')});`
      : `let last = params.N - 1u;
  return vec4<f32>(${cols.map((c) => `B[base + ${c} + k]`).join(', ')});`;
    loadB4 = v.vecB
      ? `let last = params.N - 1u;
  let c0 = B[(base + ${cols[0]} + k) / 4u];
  let c1 = B[(base + ${cols[1]} + k) / 4u];
  let c2 = B[(base + ${cols[2]} + k) / 4u];
  let c3 = B[(base + ${cols[3]} + k) / 4u];
  return mat4x4<f32>(vec4<f32>(c0.x, c1.x, c2.x, c3.x), vec4<f32>(c0.y, c1.y, c2.y, c3.y), vec4<f32>(c0.z, c1.z, c2.z, c3.z), vec4<f32>(c0.w, c1.w, c2.w, c3.w));`
      : 'return mat4x4<f32>(load_b(base, k, n), load_b(base, k + 1u, n), load_b(base, k + 2u, n), load_b(base, k + 3u, n));';
  }

  // Row-major [.., N] vectors of 4 columns: C, the bias row and the pre-activation.
  const loadRow = (array: string) =>
    v.vecC
      ? `return ${array}[(base + m * params.N + n) / 4u];`
      : `let row = base + m * params.N;
  let last = params.N - 1u;
  return vec4<f32>(${array}[row + min(n, last)], ${array}[row + min(n + 1u, last)], ${array}[row + min(n + 2u, last)], ${array}[row + min(n + 3u, last)]);`;
  const storeRow = (array: string) =>
    v.vecC
      ? `${array}[(base + m * params.N + n) / 4u] = value;`
      : `let row = base + m * params.N;
  for (var i = 0u; i < 4u; i++) {
    if (n + i < params.N) { ${array}[row + n + i] = value[i]; }
  }`;

  const rows = Array.from({ length: TM }, (_, r) => r);
  const vecs = Array.from({ length: CV }, (_, c) => c);

  // The main loop: A values for k .. k + KB - 1 of every row, then KB / 4 blocks of B.
  const lines: string[] = [];
  let aExpr: (r: number, kk: number) => string;
  if (v.aLoad === 'scalar') {
    aExpr = (r, kk) => `load_a(baseA, m${r}, k + ${kk}u)`;
    for (const r of rows) lines.push(`let a${r} = vec4<f32>(${[0, 1, 2, 3].map((kk) => aExpr(r, kk)).join(', ')});`);
    aExpr = (r, kk) => `a${r}[${kk}]`;
  } else if (v.aLoad === 'vec4' && !v.transA) {
    for (const r of rows) lines.push(`let a${r} = A[(baseA + m${r} * params.K + k) / 4u];`);
    aExpr = (r, kk) => `a${r}[${kk}]`;
  } else if (v.aLoad === 'vec4') {
    // Aᵀ: the rows m_first .. m_first + 3 of one k are contiguous.
    for (let kk = 0; kk < 4; kk++)
      for (let q = 0; q < TM / 4; q++) lines.push(`let a${q}_${kk} = A[(baseA + (k + ${kk}u) * params.M + m_first) / 4u + ${q}u];`);
    aExpr = (r, kk) => `a${r >> 2}_${kk}[${r & 3}]`;
  } else if (v.aLoad === 'subgroup' && !v.transA) {
    for (const r of rows) lines.push(`let av${r} = A[baseA + m${r} * params.K + k + lane];`);
    for (const r of rows) for (let j = 0; j < 8; j++) lines.push(`let a${r}_${j} = subgroupBroadcast(av${r}, ${j}u);`);
    aExpr = (r, kk) => `a${r}_${kk}`;
  } else {
    for (const r of rows) lines.push(`let av${r} = A[baseA + (k + lane) * params.M + m${r}];`);
    for (const r of rows) for (let j = 0; j < 8; j++) lines.push(`let a${r}_${j} = subgroupBroadcast(av${r}, ${j}u);`);
    aExpr = (r, kk) => `a${r}_${kk}`;
  }
  for (let k4 = 0; k4 < KB; k4 += 4) {
    for (const c of vecs) lines.push(`let b${c}_${k4} = load_b4(baseB, k + ${k4}u, n_load${c});`);
    for (let kk = 0; kk < 4; kk++) {
      for (const r of rows) {
        lines.push(`{ let a = vec4<f32>(${aExpr(r, k4 + kk)});`);
        for (const c of vecs) lines.push(`  acc${r}_${c} = fma(a, b${c}_${k4}[${kk}], acc${r}_${c});`);
        lines.push('}');
      }
    }
  }
  const mainLoop = lines.map((l) => `    ${l}`).join('\n');

  const epilogue = matmulEpilogue(v);

  return `${k.header}
${v.dropout ? RANDOM_WGSL : ''}
${v.activation !== 'none' ? ACTIVATION_WGSL : ''}

fn load_a(base: u32, m: u32, k: u32) -> f32 {
  ${loadA}
}

/** Logical B[k, n..n+3]. */
fn load_b(base: u32, k: u32, n: u32) -> vec4<f32> {
  ${loadB}
}

/** Logical B[k..k+3, n..n+3]; column i of the matrix is row k + i. */
fn load_b4(base: u32, k: u32, n: u32) -> mat4x4<f32> {
  ${loadB4}
}

fn load_c(base: u32, m: u32, n: u32) -> vec4<f32> {
  ${loadRow('C')}
}

fn store_c(base: u32, m: u32, n: u32, value: vec4<f32>) {
  ${storeRow('C')}
}

${
  v.storePre
    ? `fn store_pre(base: u32, m: u32, n: u32, value: vec4<f32>) {
  ${storeRow('pre')}
}`
    : ''
}

${
  v.bias
    ? `fn load_bias(n: u32) -> vec4<f32> {
  let base = 0u;
  let m = 0u;
  ${loadRow('bias')}
}`
    : ''
}

fn epilogue(base: u32, m: u32, n: u32, acc: vec4<f32>) {
${epilogue}}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>${subgroups ? ', @builtin(subgroup_invocation_id) sid: u32' : ''}) {
  let m_first = wid.x * ${TM}u;
  let last_m = params.M - 1u;
  let baseA = wid.z * params.stride_a;
  let baseB = wid.z * params.stride_b;
  let baseC = wid.z * params.stride_c;
${subgroups ? `  let lane = min(sid, 7u);\n` : ''}${vecs
    .map(
      (c) => `  let n${c} = (wid.y * ${WG * CV}u + ${c * WG}u + lid.x) * 4u;
  // Threads past the last column compute column 0 (valid addresses) and store nothing.
  let n_load${c} = select(n${c}, 0u, n${c} >= params.N);`,
    )
    .join('\n')}
${rows.map((r) => `  let m${r} = min(m_first + ${r}u, last_m);`).join('\n')}
${rows.map((r) => vecs.map((c) => `  var acc${r}_${c} = vec4<f32>(0.0);`).join('\n')).join('\n')}
  let k_main = params.K - params.K % ${KB}u;
  var k = 0u;
  for (; k < k_main; k += ${KB}u) {
${mainLoop}
  }
  for (; k < params.K; k++) {
${vecs.map((c) => `    let b${c} = load_b(baseB, k, n_load${c});`).join('\n')}
${rows.map((r) => `    { let a = vec4<f32>(load_a(baseA, m${r}, k));\n${vecs.map((c) => `      acc${r}_${c} = fma(a, b${c}, acc${r}_${c});`).join('\n')}\n    }`).join('\n')}
  }
${rows
  .map((r) =>
    vecs
      .map(
        (c) => `  if (m_first + ${r}u < params.M && n${c} < params.N) {
    epilogue(baseC, m_first + ${r}u, n${c}, acc${r}_${c});
  }`,
      )
      .join('\n'),
  )
  .join('\n')}
}
`;
}

export const matmulKernel = defineKernel({
  name: 'nn.matmul',
  uniforms: {
    M: 'u32',
    N: 'u32',
    K: 'u32',
    stride_a: 'u32',
    stride_b: 'u32',
    stride_c: 'u32',
    seed: 'u32',
    step: 'u32',
    p: 'f32',
    keep_scale: 'f32',
  },
  bindings: (v: MatmulVariant): BindingTable => {
    const cType = v.vecC ? 'array<vec4<f32>>' : 'array<f32>';
    return {
      A: { type: v.aLoad === 'vec4' ? 'array<vec4<f32>>' : 'array<f32>', access: 'read' },
      B: { type: v.vecB ? 'array<vec4<f32>>' : 'array<f32>', access: 'read' },
      C: { type: cType, access: 'read_write' },
      bias: v.bias && { type: cType, access: 'read' },
      pre: v.storePre && { type: cType, access: 'read_write' },
    };
  },
  enables: (v) => (v.aLoad === 'subgroup' ? ['subgroups'] : []),
  wgsl: matmulBody,
});

/** The WGSL of a variant. */
export function matmulWgsl(v: MatmulVariant): string {
  return matmulKernel.wgsl(v);
}

/**
 * The WGSL between a 4-wide accumulator `acc` and the stored output (bias, accumulate, saved
 * pre-activation, activation, dropout, store): one text for both matmul kernels, so their outputs
 * agree to the bit whatever the tiling.
 */
export function matmulEpilogue(v: Pick<MatmulVariant, 'bias' | 'accumulate' | 'storePre' | 'activation' | 'dropout'>): string {
  let epilogue = '  var z = acc;\n';
  if (v.bias) epilogue += '  z = z + load_bias(n);\n';
  if (v.accumulate) epilogue += '  z = z + load_c(base, m, n);\n';
  if (v.storePre) epilogue += '  store_pre(base, m, n, z);\n';
  if (v.activation === 'relu') epilogue += '  z = relu4(z);\n';
  if (v.activation === 'gelu') epilogue += '  z = gelu4(z);\n';
  if (v.dropout) {
    epilogue += `  let key = stream_key(params.seed, params.step);
  let index = base + m * params.N + n;
  let keep = vec4<f32>(
    select(0.0, params.keep_scale, uniform_at(key, index) >= params.p),
    select(0.0, params.keep_scale, uniform_at(key, index + 1u) >= params.p),
    select(0.0, params.keep_scale, uniform_at(key, index + 2u) >= params.p),
    select(0.0, params.keep_scale, uniform_at(key, index + 3u) >= params.p));
  z = z * keep;\n`;
  }
  epilogue += '  store_c(base, m, n, z);\n';
  return epilogue;
}
