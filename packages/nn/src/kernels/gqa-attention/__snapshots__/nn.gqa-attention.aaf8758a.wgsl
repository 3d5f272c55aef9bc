// nn.gqa-attention {"headDim":8,"pass":"forward","workgroupSize":64}
struct Params {
  count: u32,
  context: u32,
  heads: u32,
  kv_heads: u32,
  group: u32,
  scale: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
const HD: u32 = 8u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= params.count) {
    return;
  }
  let T = params.context;
  let q_width = params.heads * HD;
  let kv_width = params.kv_heads * HD;

  // Query rows vary fastest: neighbouring invocations walk the same keys.
  let t = i % T;
  let bh = i / T;
  let h = bh % params.heads;
  let row0 = (bh / params.heads) * T;
  let g = h / params.group;
  let qb = (row0 + t) * q_width + h * HD;
  var qs: array<f32, HD>;
  for (var e = 0u; e < HD; e++) {
    qs[e] = q[qb + e] * params.scale;
  }


  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, HD>;
  for (var j = 0u; j <= t; j++) {
    let kb = (row0 + j) * kv_width + g * HD;
    var s = 0.0;
    for (var e = 0u; e < HD; e++) {
      s += qs[e] * k[kb + e];
    }
    let m_new = max(m, s);
    let rescale = exp(m - m_new);
    let p = exp(s - m_new);
    l = l * rescale + p;
    for (var e = 0u; e < HD; e++) {
      acc[e] = acc[e] * rescale + p * v[kb + e];
    }
    m = m_new;
  }
  let inv = 1.0 / l;
  for (var e = 0u; e < HD; e++) {
    out[qb + e] = acc[e] * inv;
  }
  lse[(row0 + t) * params.heads + h] = m + log(l);

}
