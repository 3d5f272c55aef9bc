// nn.rope {"inPlace":false,"layout":"neox","workgroupSize":256}
struct Params {
  slots: u32,
  context: u32,
  heads: u32,
  head_dim: u32,
  rope_half: u32,
  position_offset: u32,
  freq_exp: f32,
  sin_sign: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// 2π = TWO_PI_HI + TWO_PI_LO; TWO_PI_HI has 8 significant bits, so k·TWO_PI_HI is exact for k < 2^16.
const TWO_PI_HI: f32 = 6.28125;
const TWO_PI_LO: f32 = 0.0019353071795864769;
const INV_TWO_PI: f32 = 0.15915494309189535;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.slots) {
    return;
  }
  let half_dim = params.head_dim / 2u;
  let slot = i % half_dim;
  // Slot i belongs to flat head i / half_dim (row-major [rows, heads]), whose first element is (i / half_dim)·headDim.
  let row_head = i / half_dim;
  let base = row_head * params.head_dim;
  if (slot < params.rope_half) {

    let e0 = base + slot;
    let e1 = e0 + params.rope_half;

    let pos = f32(row_head / params.heads % params.context + params.position_offset);
    let theta = pos * exp2(f32(slot) * params.freq_exp);
    let k = round(theta * INV_TWO_PI);
    let r = (theta - k * TWO_PI_HI) - k * TWO_PI_LO;
    let c = cos(r);
    let s = sin(r) * params.sin_sign;
    let x0 = x[e0];
    let x1 = x[e1];
    y[e0] = x0 * c - x1 * s;
    y[e1] = x0 * s + x1 * c;
  }

  else {
    let e0 = base + 2u * slot;
    y[e0] = x[e0];
    y[e0 + 1u] = x[e0 + 1u];
  }

}
