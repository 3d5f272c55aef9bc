// Accumulator aliases: one template serves scalar and vec4 rows, f32 and f16 storage.
export type FloatDType = 'f32' | 'f16';

/**
 * `enable f16;` when a binding is accessed as f16 scalars. 4-aligned f16 rows are read and written
 * as pairs of u32 words converted with integer ops (`unpackH4`/`packH4`): on lavapipe both
 * vec4<f16> and unpack2x16float conversions cost more than the rest of the row-stats pass.
 */
export function enables(dtypes: readonly (FloatDType | undefined)[], vec4 = false): string {
  return dtypes.includes('f16') && !vec4 ? 'enable f16;\n' : '';
}

/** Storage element type of a float tensor: scalar, or 4 columns per element when rows are 4-aligned. */
export function elementType(dtype: FloatDType, vec4: boolean): string {
  if (!vec4) return dtype;
  return dtype === 'f16' ? 'vec2<u32>' : 'vec4<f32>';
}

/** WGSL expression loading one storage element as the f32 accumulator type. */
export function loadAcc(dtype: FloatDType, vec4: boolean, element: string): string {
  return dtype === 'f16' && vec4 ? `unpackH4(${element})` : `Acc(${element})`;
}

/** WGSL expression turning an accumulator value into one storage element. */
export function storeAcc(dtype: FloatDType, vec4: boolean, value: string): string {
  return dtype === 'f16' && vec4 ? `packH4(${value})` : `${elementType(dtype, vec4)}(${value})`;
}

/**
 * `Acc` is the f32 accumulator type of one loop step (vec4<f32> or f32) and `W` its lane count;
 * `hmax`/`hsum` reduce its lanes. Kernels are written once against these and compiled per variant.
 */
export function accDecls(vec4: boolean): string {
  return vec4
    ? `alias Acc = vec4<f32>;
alias UAcc = vec4<u32>;
const W: u32 = 4u;
fn hmax(v: Acc) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }
fn hsum(v: Acc) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn lane(v: Acc, i: u32) -> f32 { return v[i]; }
fn laneIds() -> vec4<u32> { return vec4<u32>(0u, 1u, 2u, 3u); }
// f16 pairs → f32 with integer ops (exact, incl. subnormals, ±inf, NaN): cheaper than unpack2x16float on CPU adapters.
fn unpackH4(w: vec2<u32>) -> Acc {
  let h = vec4<u32>(w.x & 0xffffu, w.x >> 16u, w.y & 0xffffu, w.y >> 16u);
  let em = h & vec4<u32>(0x7fffu);
  var bits = (em << vec4<u32>(13u)) + vec4<u32>(0x38000000u);
  bits = select(bits, bits + vec4<u32>(0x38000000u), em >= vec4<u32>(0x7c00u));
  bits = select(bits, bitcast<vec4<u32>>(vec4<f32>(em) * 5.9604645e-8), em < vec4<u32>(0x400u));
  return bitcast<Acc>(bits | ((h & vec4<u32>(0x8000u)) << vec4<u32>(16u)));
}
// f32 → f16 pairs, round to nearest even (overflow → ±inf, NaN kept, subnormals exact).
fn packH4(v: Acc) -> vec2<u32> {
  let b = bitcast<vec4<u32>>(v);
  let a = b & vec4<u32>(0x7fffffffu);
  var h = (a + vec4<u32>(0xc8000fffu) + ((a >> vec4<u32>(13u)) & vec4<u32>(1u))) >> vec4<u32>(13u);
  h = select(h, vec4<u32>(0x7c00u), a >= vec4<u32>(0x477ff000u));
  h = select(h, vec4<u32>(0x7e00u), a > vec4<u32>(0x7f800000u));
  h = select(h, vec4<u32>(round(abs(v) * 16777216.0)), a < vec4<u32>(0x38800000u));
  h = h | ((b >> vec4<u32>(16u)) & vec4<u32>(0x8000u));
  return vec2<u32>(h.x | (h.y << 16u), h.z | (h.w << 16u));
}
fn anyBad(v: Acc) -> bool {
  let bits = bitcast<vec4<u32>>(v);
  return any(((bits & vec4<u32>(0x7f800000u)) == vec4<u32>(0x7f800000u)) & (bits != vec4<u32>(0xff800000u)));
}`
    : `alias Acc = f32;
alias UAcc = u32;
const W: u32 = 1u;
fn hmax(v: Acc) -> f32 { return v; }
fn hsum(v: Acc) -> f32 { return v; }
fn lane(v: Acc, i: u32) -> f32 { return v; }
fn laneIds() -> u32 { return 0u; }
fn anyBad(v: Acc) -> bool {
  let bits = bitcast<u32>(v);
  return ((bits & 0x7f800000u) == 0x7f800000u) && (bits != 0xff800000u);
}`;
}
