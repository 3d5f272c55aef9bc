/** Pointwise activations shared by the fused matmul epilogue, the activation kernels and their references. */
export type Activation = 'none' | 'relu' | 'gelu';

export const ACTIVATIONS: readonly Activation[] = ['none', 'relu', 'gelu'];

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU in its tanh form (PyTorch `gelu(approximate='tanh')`, GPT-2's `gelu_new`): WGSL has no erf,
 * and the tanh form is what most small decoder LMs were trained with.
 */
export function geluRef(z: number): number {
  return 0.5 * z * (1 + Math.tanh(GELU_C * (z + GELU_A * z * z * z)));
}

export function geluGradRef(z: number): number {
  const t = Math.tanh(GELU_C * (z + GELU_A * z * z * z));
  return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * z * z);
}

export function activationRef(activation: Activation, z: number): number {
  if (activation === 'relu') return z > 0 ? z : 0;
  if (activation === 'gelu') return geluRef(z);
  return z;
}

/** d act / d z at z. ReLU's derivative at 0 is taken as 0, as PyTorch does. */
export function activationGradRef(activation: Activation, z: number): number {
  if (activation === 'relu') return z > 0 ? 1 : 0;
  if (activation === 'gelu') return geluGradRef(z);
  return 1;
}

/**
 * WGSL for vec4 activations. tanh is written through exp of a clamped argument: some drivers'
 * tanh returns NaN for large |x|.
 */
export const ACTIVATION_WGSL = /* wgsl */ `
fn safe_tanh4(x: vec4<f32>) -> vec4<f32> {
  let e = exp(2.0 * clamp(x, vec4<f32>(-15.0), vec4<f32>(15.0)));
  return (e - 1.0) / (e + 1.0);
}
fn gelu4(z: vec4<f32>) -> vec4<f32> {
  let t = safe_tanh4(0.7978845608028654 * (z + 0.044715 * z * z * z));
  return 0.5 * z * (1.0 + t);
}
fn gelu_grad4(z: vec4<f32>) -> vec4<f32> {
  let t = safe_tanh4(0.7978845608028654 * (z + 0.044715 * z * z * z));
  return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 0.134145 * z * z);
}
fn relu4(z: vec4<f32>) -> vec4<f32> {
  return max(z, vec4<f32>(0.0));
}
`;
