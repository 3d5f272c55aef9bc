import { defineKernel, type BindingTable, type KernelContext } from '@distillery/webgpu/wgsl';
import { RANDOM_WGSL } from '../../random.js';
import { ACTIVATION_WGSL, type Activation } from '../activation-math.js';
import { matmulEpilogue } from './matmul.wgsl.js';

/**
 * One workgroup-tiled matmul configuration: a workgroup of `wgX × wgY` threads owns a
 * `wgY·rows × wgX·4·colVecs` block of C; every step of K it stages a `BM × bk` slice of op(A) and
 * a `bk × BN` slice of op(B) in workgroup memory (bounds-checked once, zero-filled past the edges),
 * then each thread multiplies `rows × 4·colVecs` in registers from vec4 reads of those tiles.
 */
export interface MatmulTileConfig {
  wgX: number;
  wgY: number;
  /** Rows of C per thread (multiple of 4: read from the A tile as vec4). */
  rows: number;
  /** vec4 column groups of C per thread, strided by wgX (neighbouring threads, neighbouring vec4s). */
  colVecs: number;
  /** K per staged tile. */
  bk: number;
}

export interface TiledMatmulVariant extends MatmulTileConfig {
  transA: boolean;
  transB: boolean;
  /** op(A)'s rows are contiguous in memory in groups of 4 and M % 4 == 0 (Aᵀ) or K % 4 == 0 (A): global loads of A as vec4. */
  vecA: boolean;
  /** Likewise for B: N % 4 == 0 (B) or K % 4 == 0 (Bᵀ). */
  vecB: boolean;
  /** N % 4 == 0: C, bias and pre-activation are read and written as vec4. */
  vecC: boolean;
  bias: boolean;
  activation: Activation;
  storePre: boolean;
  dropout: boolean;
  accumulate: boolean;
}

/** Rows (BM) and columns (BN) of C per workgroup. */
export const tileRows = (c: MatmulTileConfig) => c.wgY * c.rows;
export const tileCols = (c: MatmulTileConfig) => c.wgX * 4 * c.colVecs;

function body(v: TiledMatmulVariant, k: KernelContext): string {
  const BM = tileRows(v);
  const BN = tileCols(v);
  const BK = v.bk;
  const T = v.wgX * v.wgY;
  const RV = v.rows / 4;
  const rows = Array.from({ length: v.rows }, (_, r) => r);
  const vecs = Array.from({ length: v.colVecs }, (_, c) => c);

  // Staging: op(A)[m, k] → As[k][m] and op(B)[k, n] → Bs[k][n], both vec4 along their second index.
  // With vec loads, each thread moves whole vec4s of the operand's contiguous dimension.
  const stageA = v.transA
    ? // A stored [K, M]: contiguous along m, the tile's own vec4 direction.
      v.vecA
      ? `for (var i = lid; i < ${(BK * BM) / 4}u; i += ${T}u) {
    let kk = i / ${BM / 4}u;
    let mv = i % ${BM / 4}u;
    let m = m0 + mv * 4u;
    let kg = k0 + kk;
    var value = vec4<f32>(0.0);
    if (kg < params.K && m < params.M) { value = A[(baseA + kg * params.M + m) / 4u]; }
    As[kk * ${BM / 4}u + mv] = value;
  }`
      : `for (var i = lid; i < ${BK * BM}u; i += ${T}u) {
    let kk = i / ${BM}u;
    let mm = i % ${BM}u;
    let m = m0 + mm;
    let kg = k0 + kk;
    var value = 0.0;
    if (kg < params.K && m < params.M) { value = A[baseA + kg * params.M + m]; }
    As[kk * ${BM / 4}u + mm / 4u][mm % 4u] = value;
  }`
    : // A stored [M, K]: contiguous along k; transposed into the tile.
      v.vecA
      ? `for (var i = lid; i < ${(BK * BM) / 4}u; i += ${T}u) {
    let mm = i / ${BK / 4}u;
    let kv = i % ${BK / 4}u;
    let m = m0 + mm;
    let kg = k0 + kv * 4u;
    var value = vec4<f32>(0.0);
    if (kg < params.K && m < params.M) { value = A[(baseA + m * params.K + kg) / 4u]; }
    for (var j = 0u; j < 4u; j++) { As[(kv * 4u + j) * ${BM / 4}u + mm / 4u][mm % 4u] = value[j]; }
  }`
      : `for (var i = lid; i < ${BK * BM}u; i += ${T}u) {
    let mm = i / ${BK}u;
    let kk = i % ${BK}u;
    let m = m0 + mm;
    let kg = k0 + kk;
    var value = 0.0;
    if (kg < params.K && m < params.M) { value = A[baseA + m * params.K + kg]; }
    As[kk * ${BM / 4}u + mm / 4u][mm % 4u] = value;
  }`;
  const stageB = !v.transB
    ? // B stored [K, N]: contiguous along n, the tile's vec4 direction.
      v.vecB
      ? `for (var i = lid; i < ${(BK * BN) / 4}u; i += ${T}u) {
    let kk = i / ${BN / 4}u;
    let nv = i % ${BN / 4}u;
    let n = n0 + nv * 4u;
    let kg = k0 + kk;
    var value = vec4<f32>(0.0);
    if (kg < params.K && n < params.N) { value = B[(baseB + kg * params.N + n) / 4u]; }
    Bs[kk * ${BN / 4}u + nv] = value;
  }`
      : `for (var i = lid; i < ${BK * BN}u; i += ${T}u) {
    let kk = i / ${BN}u;
    let nn = i % ${BN}u;
    let n = n0 + nn;
    let kg = k0 + kk;
    var value = 0.0;
    if (kg < params.K && n < params.N) { value = B[baseB + kg * params.N + n]; }
    Bs[kk * ${BN / 4}u + nn / 4u][nn % 4u] = value;
  }`
    : // B stored [N, K]: contiguous along k; transposed into the tile.
      v.vecB
      ? `for (var i = lid; i < ${(BK * BN) / 4}u; i += ${T}u) {
    let nn = i / ${BK / 4}u;
    let kv = i % ${BK / 4}u;
    let n = n0 + nn;
    let kg = k0 + kv * 4u;
    var value = vec4<f32>(0.0);
    if (kg < params.K && n < params.N) { value = B[(baseB + n * params.K + kg) / 4u]; }
    for (var j = 0u; j < 4u; j++) { Bs[(kv * 4u + j) * ${BN / 4}u + nn / 4u][nn % 4u] = value[j]; }
  }`
      : `for (var i = lid; i < ${BK * BN}u; i += ${T}u) {
    let nn = i / ${BK}u;
    let kk = i % ${BK}u;
    let n = n0 + nn;
    let kg = k0 + kk;
    var value = 0.0;
    if (kg < params.K && n < params.N) { value = B[baseB + n * params.K + kg]; }
    Bs[kk * ${BN / 4}u + nn / 4u][nn % 4u] = value;
  }`;

  // The register block: for each k of the tile, rows/4 vec4s of A and colVecs vec4s of B.
  const inner: string[] = [];
  for (let q = 0; q < RV; q++) inner.push(`let a${q} = As[kk * ${BM / 4}u + ty * ${RV}u + ${q}u];`);
  for (const c of vecs) inner.push(`let b${c} = Bs[kk * ${BN / 4}u + tx + ${c * v.wgX}u];`);
  for (const r of rows) for (const c of vecs) inner.push(`acc${r}_${c} = fma(vec4<f32>(a${r >> 2}[${r & 3}]), b${c}, acc${r}_${c});`);

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
  const epilogue = matmulEpilogue(v);

  return `${k.header}
${v.dropout ? RANDOM_WGSL : ''}
${v.activation !== 'none' ? ACTIVATION_WGSL : ''}

var<workgroup> As: array<vec4<f32>, ${(BK * BM) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(BK * BN) / 4}>;

fn load_c(base: u32, m: u32, n: u32) -> vec4<f32> {
  ${loadRow('C')}
}

fn store_c(base: u32, m: u32, n: u32, value: vec4<f32>) {
  ${storeRow('C')}
}
${
  v.storePre
    ? `
fn store_pre(base: u32, m: u32, n: u32, value: vec4<f32>) {
  ${storeRow('pre')}
}`
    : ''
}${
    v.bias
      ? `
fn load_bias(n: u32) -> vec4<f32> {
  let base = 0u;
  let m = 0u;
  ${loadRow('bias')}
}`
      : ''
  }

fn epilogue(base: u32, m: u32, n: u32, acc: vec4<f32>) {
${epilogue}}

@compute @workgroup_size(${v.wgX}, ${v.wgY})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tx = lid3.x;
  let ty = lid3.y;
  let m0 = wid.x * ${BM}u;
  let n0 = wid.y * ${BN}u;
  let baseA = wid.z * params.stride_a;
  let baseB = wid.z * params.stride_b;
  let baseC = wid.z * params.stride_c;
${rows.map((r) => vecs.map((c) => `  var acc${r}_${c} = vec4<f32>(0.0);`).join('\n')).join('\n')}
  for (var k0 = 0u; k0 < params.K; k0 += ${BK}u) {
  ${stageA}
  ${stageB}
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
${inner.map((l) => `      ${l}`).join('\n')}
    }
    workgroupBarrier();
  }
${rows
  .map((r) =>
    vecs
      .map(
        (c) => `  {
    let m = m0 + ty * ${v.rows}u + ${r}u;
    let n = n0 + (tx + ${c * v.wgX}u) * 4u;
    if (m < params.M && n < params.N) { epilogue(baseC, m, n, acc${r}_${c}); }
  }`,
      )
      .join('\n'),
  )
  .join('\n')}
}
`;
}

/** Workgroup-tiled f32 matmul with the same epilogue (bias, accumulate, pre, activation, dropout) and uniforms as `nn.matmul`. */
export const tiledMatmulKernel = defineKernel({
  name: 'nn.matmul-tiled',
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
  bindings: (v: TiledMatmulVariant): BindingTable => {
    const cType = v.vecC ? 'array<vec4<f32>>' : 'array<f32>';
    return {
      A: { type: v.vecA ? 'array<vec4<f32>>' : 'array<f32>', access: 'read' },
      B: { type: v.vecB ? 'array<vec4<f32>>' : 'array<f32>', access: 'read' },
      C: { type: cType, access: 'read_write' },
      bias: v.bias && { type: cType, access: 'read' },
      pre: v.storePre && { type: cType, access: 'read_write' },
    };
  },
  wgsl: body,
});
