// nn.grad-norm-finalize {}
struct Params {
  tensors: u32,
  max_norm: f32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;

fn is_finite(x: f32) -> bool {
  // WGSL lets compilers assume values are finite, so test the exponent bits instead of x != x.
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}


@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  for (var s = lid; s < params.tensors; s += 64u) {
    var sum = 0.0;
    for (var j = 0u; j < 32u; j++) {
      sum += partials[s * 32u + j];
    }
    stats[4u + s] = sum;
  }
  storageBarrier();
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var s = 0u; s < params.tensors; s++) {
      total += stats[4u + s];
    }
    let finite = is_finite(total);
    var scale = 1.0;
    if (params.max_norm > 0.0 && finite) {
      scale = min(1.0, params.max_norm / (sqrt(total) + 1e-6));
    }
    stats[0u] = total;
    stats[1u] = scale;
    stats[2u] = select(0.0, 1.0, finite);
  }
}
