// nn.gqa-attention {"headDim":8,"pass":"dkdv","workgroupSize":64}
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
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
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


  // Key rows vary fastest: neighbouring invocations walk the same queries.
  let j = i % T;
  let bg = i / T;
  let g = bg % params.kv_heads;
  let row0 = (bg / params.kv_heads) * T;
  let kb = (row0 + j) * kv_width + g * HD;
  var ks: array<f32, HD>;
  var vj: array<f32, HD>;
  for (var e = 0u; e < HD; e++) {
    ks[e] = k[kb + e] * params.scale;
    vj[e] = v[kb + e];
  }
  var dk_acc: array<f32, HD>;
  var dv_acc: array<f32, HD>;
  for (var hh = 0u; hh < params.group; hh++) {
    let h = g * params.group + hh;
    for (var t = j; t < T; t++) {
      let qb = (row0 + t) * q_width + h * HD;
      let stat = (row0 + t) * params.heads + h;
      var s = 0.0;
      var dp = 0.0;
      for (var e = 0u; e < HD; e++) {
        s += q[qb + e] * ks[e];
        dp += dout[qb + e] * vj[e];
      }
      let p = exp(s - lse[stat]);
      let ds = p * (dp - delta[stat]);
      for (var e = 0u; e < HD; e++) {
        dv_acc[e] += p * dout[qb + e];
        dk_acc[e] += ds * q[qb + e];
      }
    }
  }
  for (var e = 0u; e < HD; e++) {
    dk[kb + e] = dk_acc[e] * params.scale;
    dv[kb + e] = dv_acc[e];
  }

}
