import type { UniformValue } from '@distillery/webgpu';
import { packUniformTable, uniformStructWgsl, type UniformTable } from '@distillery/webgpu/wgsl';

/**
 * The uniform struct every row kernel shares (binding 0). Only scalars, so `packUniforms` lays it
 * out; every shape lives here, so a new vocabulary or row count never recompiles a pipeline.
 */
export interface RowParams {
  /** Rows in this dispatch's row group. */
  rows: number;
  /** Global index of the group's first row. */
  rowBase: number;
  /** Rows of the whole batch. */
  totalRows: number;
  /** Student vocabulary V (columns of z and of the gradient). */
  vocab: number;
  /** Columns iterated: max(V, teacher columns used). */
  cols: number;
  /** Teacher columns used (dense teacher). */
  tCols: number;
  /** Row stride of z and of the gradient, in elements. */
  zStride: number;
  /** Row stride of the dense teacher, in elements. */
  tStride: number;
  /** Element offset of the group's first row inside the bound window of z / t / gradient. */
  zShift: number;
  tShift: number;
  gShift: number;
  /** Columns per chunk (one workgroup each) and chunks per row. */
  chunk: number;
  nChunks: number;
  /** Top-k entries per row. */
  k: number;
  hasLabels: boolean;
  ignoreIndex: number;
  /** Also accumulate Σ exp(z − max) at T = 1 (hard term with T ≠ 1). */
  needT1: boolean;
  /** Divide sums and gradients by this; 0: by the number of active rows. */
  normalizer: number;
  invT: number;
  /** Gradient factor of ∂D/∂(z/T): softWeight · τ / T (τ = T² or 1). */
  softScale: number;
  /** Loss factor of D: softWeight · τ. */
  softLossScale: number;
  hardWeight: number;
  beta: number;
  oneMinusBeta: number;
  logBeta: number;
  log1mBeta: number;
  hasTailMass: boolean;
  /** Top-k indices ≥ V: 0 error, 1 truncate (drop), 2 mask (keep with student probability 0). */
  topkMismatch: number;
}

/** The struct, in order: one table for the WGSL declaration and the host packer (the kit's). */
const FIELDS = {
  rows: 'u32',
  rowBase: 'u32',
  totalRows: 'u32',
  vocab: 'u32',
  cols: 'u32',
  tCols: 'u32',
  zStride: 'u32',
  tStride: 'u32',
  zShift: 'u32',
  tShift: 'u32',
  gShift: 'u32',
  chunk: 'u32',
  nChunks: 'u32',
  k: 'u32',
  hasLabels: 'u32',
  ignoreIndex: 'i32',
  needT1: 'u32',
  normalizer: 'f32',
  invT: 'f32',
  softScale: 'f32',
  softLossScale: 'f32',
  hardWeight: 'f32',
  beta: 'f32',
  oneMinusBeta: 'f32',
  // ln β and ln(1 − β) are −∞ at β = 0 or 1.
  logBeta: { type: 'f32', nonFinite: true },
  log1mBeta: { type: 'f32', nonFinite: true },
  hasTailMass: 'u32',
  topkMismatch: 'u32',
  // Infinities come in as data: WGSL cannot spell them as constants.
  negInf: { type: 'f32', nonFinite: true, default: -Infinity },
  posInf: { type: 'f32', nonFinite: true, default: Infinity },
} satisfies Record<keyof RowParams | 'negInf' | 'posInf', UniformTable[string]>;

export const PARAMS_WGSL = uniformStructWgsl(FIELDS);

export const DEFAULT_PARAMS: RowParams = {
  rows: 0,
  rowBase: 0,
  totalRows: 0,
  vocab: 0,
  cols: 0,
  tCols: 0,
  zStride: 0,
  tStride: 0,
  zShift: 0,
  tShift: 0,
  gShift: 0,
  chunk: 1,
  nChunks: 1,
  k: 0,
  hasLabels: false,
  ignoreIndex: -100,
  needT1: false,
  normalizer: 0,
  invT: 1,
  softScale: 0,
  softLossScale: 0,
  hardWeight: 0,
  beta: 0.5,
  oneMinusBeta: 0.5,
  logBeta: Math.log(0.5),
  log1mBeta: Math.log(0.5),
  hasTailMass: false,
  topkMismatch: 0,
};

export function packRowParams(p: RowParams): UniformValue[] {
  return packUniformTable(FIELDS, p as unknown as Record<string, number | boolean>, { kernel: 'kernels row params', label: 'row params' });
}
