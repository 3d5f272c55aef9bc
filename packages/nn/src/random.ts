/**
 * Counter-based randomness shared by the WGSL kernels and their float64 references: a value is a
 * pure function of (seed, step, index), so dropout's backward recomputes the forward's mask
 * instead of storing it, a resumed run draws the same numbers, and the CPU reference agrees bit
 * for bit on the integer hash.
 */

/** lowbias32 (Chris Wellons' integer hash): good avalanche in 5 operations. */
export function hash32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The per-(seed, step) key; computed once per dispatch. */
export function streamKey(seed: number, step: number): number {
  return hash32((seed ^ hash32(step + 0x9e3779b9)) >>> 0);
}

/** Uniform in [0, 1) with 24 random bits, for element `index` of stream `key`. */
export function uniformAt(key: number, index: number): number {
  const h = hash32((hash32((index + key) >>> 0) ^ key) >>> 0);
  return (h >>> 8) / 16777216;
}

/** Standard normal for element `index` (Box–Muller over the uniforms at 2·index and 2·index + 1). */
export function normalAt(key: number, index: number): number {
  const u1 = 1 - uniformAt(key, (2 * index) >>> 0);
  const u2 = uniformAt(key, (2 * index + 1) >>> 0);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** The same functions in WGSL; paste into a shader that needs them. */
export const RANDOM_WGSL = /* wgsl */ `
fn hash32(x: u32) -> u32 {
  var h = x;
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  h = h * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return h;
}
fn stream_key(seed: u32, step: u32) -> u32 {
  return hash32(seed ^ hash32(step + 0x9e3779b9u));
}
fn uniform_at(key: u32, index: u32) -> f32 {
  let h = hash32(hash32(index + key) ^ key);
  return f32(h >> 8u) * (1.0 / 16777216.0);
}
fn normal_at(key: u32, index: u32) -> f32 {
  let u1 = 1.0 - uniform_at(key, 2u * index);
  let u2 = uniform_at(key, 2u * index + 1u);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
`;

/** Dropout keeps element `index` when its uniform is at or above `p` (as the f32 the GPU compares with). */
export function dropoutKeep(key: number, index: number, p: number): boolean {
  return uniformAt(key, index) >= Math.fround(p);
}
