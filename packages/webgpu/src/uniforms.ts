/** One scalar of a kernel's uniform struct, in declaration order. */
export type UniformValue = { u32: number } | { i32: number } | { f32: number };

/**
 * Packs scalars into the bytes of a WGSL struct made only of 4-byte scalars (tightly packed,
 * size rounded up to 16 as uniform buffers require).
 */
export function packUniforms(values: readonly UniformValue[]): ArrayBuffer {
  const bytes = new ArrayBuffer(Math.max(16, Math.ceil((values.length * 4) / 16) * 16));
  const view = new DataView(bytes);
  values.forEach((value, i) => {
    if ('u32' in value) view.setUint32(i * 4, value.u32, true);
    else if ('i32' in value) view.setInt32(i * 4, value.i32, true);
    else view.setFloat32(i * 4, value.f32, true);
  });
  return bytes;
}
