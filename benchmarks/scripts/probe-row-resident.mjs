// Probe (not a suite): could the KD gradient pass skip re-reading the logits by keeping each row in private memory?
// Times, on one device and interleaved, a stripped-down forward-KL chain two ways at 1,024 × 32,000 f32:
//   two-pass  — row statistics (reads z, t), then the gradient (reads z, t again, writes g): today's shape;
//   resident  — one workgroup per row keeps its slice of z and t in private arrays between the two phases (3 touches).
// Both write the same gradient (checked). WG=<workgroup size> picks the slice length (vocab/4/WG vec4 per invocation).
//   WG=64 node benchmarks/scripts/probe-row-resident.mjs
// On lavapipe (2026-12-07): resident 0.89× (WG 64), 0.92× (128), 0.50× (256) of two-pass — private arrays indexed by a
// loop counter cost more there than the storage re-reads they save, so the kernels keep two passes.
import { create, globals } from 'webgpu';
import { pseudoRandom } from './probe-inputs.mjs';
Object.assign(globalThis, globals);
const gpu = create(['disable-dawn-features=timestamp_quantization']);
const adapter = await gpu.requestAdapter();
const device = await adapter.requestDevice({ requiredFeatures: ['timestamp-query', 'subgroups'].filter((f) => adapter.features.has(f)) });
device.addEventListener('uncapturederror', (e) => {
  console.error(`WebGPU validation error: ${e.error.message}`);
  process.exitCode = 1;
});
const rows = 1024,
  vocab = 32000,
  W = 4,
  V4 = vocab / 4;
const WG = Number(process.env.WG ?? 256),
  PER = Math.ceil(V4 / WG);
const mk = (data, usage) => {
  const b = device.createBuffer({ size: data.byteLength, usage: usage | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(b, 0, data);
  return b;
};
const S = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
const z = mk(pseudoRandom(rows * vocab, 1, 6), S),
  t = mk(pseudoRandom(rows * vocab, 2, 6), S);
const g = device.createBuffer({ size: rows * vocab * 4, usage: S });
const stats = device.createBuffer({ size: rows * 16, usage: S });
const common = `
@group(0) @binding(0) var<storage, read> z: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> t: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> g: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> st: array<vec4<f32>>;
const WG: u32 = ${WG}u; const V4: u32 = ${V4}u; const PER: u32 = ${PER}u;
var<workgroup> red: array<vec4<f32>, ${WG}>;
fn hmax(v: vec4<f32>) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }
fn hsum(v: vec4<f32>) -> f32 { return v.x + v.y + v.z + v.w; }
fn reduce(lid: u32, a: vec4<f32>) -> vec4<f32> {
  // (zmax, zsum, tmax, tsum)
  red[lid] = a; workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { let b = red[lid + s]; let x = red[lid];
      let mz = max(x.x, b.x); let mt = max(x.z, b.z);
      red[lid] = vec4<f32>(mz, x.y * exp(x.x - mz) + b.y * exp(b.x - mz), mt, x.w * exp(x.z - mt) + b.w * exp(b.z - mt)); }
    workgroupBarrier();
  }
  return red[0];
}
`;
// A: stats pass (one online pass each) + gradient pass (re-reads z and t)
const statsWgsl =
  common +
  `
@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = wid.x * V4; var a = vec4<f32>(-3e38, 0.0, -3e38, 0.0);
  for (var i = lid; i < V4; i += WG) {
    let zv = z[base + i]; let m = hmax(zv); if (m > a.x) { a.y *= exp(a.x - m); a.x = m; } a.y += hsum(exp((zv - a.x) * 0.5));
    let tv = t[base + i]; let n = hmax(tv); if (n > a.z) { a.w *= exp(a.z - n); a.z = n; } a.w += hsum(exp((tv - a.z) * 0.5));
  }
  let r = reduce(lid, a); if (lid == 0u) { st[wid.x] = r; }
}`;
const gradWgsl =
  common +
  `
@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = wid.x * V4; let r = st[wid.x];
  for (var i = lid; i < V4; i += WG) {
    let q = exp((z[base + i] - r.x) * 0.5) / r.y; let p = exp((t[base + i] - r.z) * 0.5) / r.w;
    g[base + i] = q - p;
  }
}`;
// B: row resident: one kernel, values kept in private arrays
const residentWgsl =
  common +
  `
@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = wid.x * V4; var a = vec4<f32>(-3e38, 0.0, -3e38, 0.0);
  var zs: array<vec4<f32>, PER>; var ts: array<vec4<f32>, PER>;
  for (var k = 0u; k < PER; k++) {
    let i = lid + k * WG;
    if (i < V4) {
      let zv = z[base + i]; zs[k] = zv; let m = hmax(zv); if (m > a.x) { a.y *= exp(a.x - m); a.x = m; } a.y += hsum(exp((zv - a.x) * 0.5));
      let tv = t[base + i]; ts[k] = tv; let n = hmax(tv); if (n > a.z) { a.w *= exp(a.z - n); a.z = n; } a.w += hsum(exp((tv - a.z) * 0.5));
    }
  }
  let r = reduce(lid, a);
  for (var k = 0u; k < PER; k++) {
    let i = lid + k * WG;
    if (i < V4) { g[base + i] = exp((zs[k] - r.x) * 0.5) / r.y - exp((ts[k] - r.z) * 0.5) / r.w; }
  }
}`;
const bgl = device.createBindGroupLayout({
  entries: [0, 1, 2, 3].map((binding) => ({
    binding,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: binding < 2 ? 'read-only-storage' : 'storage' },
  })),
});
const layout = device.createPipelineLayout({ bindGroupLayouts: [bgl] });
const pipe = (code, label) =>
  device.createComputePipeline({ label, layout, compute: { module: device.createShaderModule({ code, label }), entryPoint: 'main' } });
const bg = (p) =>
  device.createBindGroup({ layout: bgl, entries: [z, t, g, stats].map((buffer, binding) => ({ binding, resource: { buffer } })) });
const pS = pipe(statsWgsl, 'stats'),
  pG = pipe(gradWgsl, 'grad'),
  pR = pipe(residentWgsl, 'resident');
const qs = device.createQuerySet({ type: 'timestamp', count: 2 });
const qb = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
const rb = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
async function run(pipes) {
  const enc = device.createCommandEncoder();
  pipes.forEach((p, j) => {
    const pass = enc.beginComputePass({
      timestampWrites: {
        querySet: qs,
        ...(j == 0 ? { beginningOfPassWriteIndex: 0 } : {}),
        ...(j == pipes.length - 1 ? { endOfPassWriteIndex: 1 } : {}),
      },
    });
    pass.setPipeline(p);
    pass.setBindGroup(0, bg(p));
    pass.dispatchWorkgroups(rows);
    pass.end();
  });
  enc.resolveQuerySet(qs, 0, 2, qb, 0);
  enc.copyBufferToBuffer(qb, 0, rb, 0, 16);
  device.queue.submit([enc.finish()]);
  await rb.mapAsync(GPUMapMode.READ);
  const v = new BigUint64Array(rb.getMappedRange().slice(0));
  rb.unmap();
  return Number(v[1] - v[0]) / 1e6;
}
async function readG() {
  const r = device.createBuffer({ size: 64 * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const e = device.createCommandEncoder();
  e.copyBufferToBuffer(g, 4 * 12345, r, 0, 256);
  device.queue.submit([e.finish()]);
  await r.mapAsync(GPUMapMode.READ);
  return Array.from(new Float32Array(r.getMappedRange())).slice(0, 4);
}
await run([pS, pG]);
const gA = await readG();
await run([pR]);
const gB = await readG();
console.log('check', gA, gB);
const A = [],
  B = [];
for (let i = 0; i < 6; i++) {
  A.push(await run([pS, pG]));
  B.push(await run([pR]));
}
const med = (x) => x.sort((a, b) => a - b)[x.length >> 1];
console.log(
  JSON.stringify({
    adapter: `${adapter.info.vendor} ${adapter.info.device}`,
    WG,
    PER,
    twoPass: med(A),
    resident: med(B),
    ratio: med(A) / med(B),
  }),
);
