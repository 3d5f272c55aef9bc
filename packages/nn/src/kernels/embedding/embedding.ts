import { badValue, requireInteger } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { requireDtype, requireSameDevice, requireShape } from '../../checks.js';
import { embeddingKernel } from './embedding.wgsl.js';

export const embeddingProgram = embeddingKernel;

const WORKGROUP = 64;

function tableDims(table: GpuTensor): { vocab: number; dim: number } {
  requireDtype(table);
  if (table.shape.length !== 2) throw badValue(`${table.label}.shape`, table.shape, 'a table [vocab, dim]');
  return { vocab: table.shape[0]!, dim: table.shape[1]! };
}

export interface PositionalSpec {
  /** `[context, dim]` learned positions; row r of the output adds `positions[r % context]`. */
  table: GpuTensor;
}

/** Records out[r] = table[ids[r]] (+ positions[r % context]). `ids` is i32 `[rows]`, `out` `[rows, dim]`. */
export function recordEmbedding(
  recorder: CommandRecorder,
  ids: GpuTensor,
  table: GpuTensor,
  out: GpuTensor,
  positional?: PositionalSpec,
): void {
  requireDtype(ids, 'i32');
  requireSameDevice(ids, table, out);
  const { vocab, dim } = tableDims(table);
  const rows = ids.size;
  requireShape(out, [rows, dim]);
  let context = 1;
  if (positional) {
    const p = tableDims(positional.table);
    if (p.dim !== dim) throw badValue(`${positional.table.label}.shape`, positional.table.shape, `[context, ${dim}]`);
    context = requireInteger('positions.context', p.vocab, 1);
  }
  if (rows === 0) return;
  checkBindingSize(recorder.device, table.label, table.byteLength);
  embeddingKernel.record(
    recorder,
    { pass: 'gather', positional: Boolean(positional), accumulate: false, workgroupSize: WORKGROUP },
    {
      uniforms: { rows, dim, vocab, context },
      bindings: { ids, table, out, positions: positional ? positional.table : undefined },
      workgroups: linearGrid(recorder.device, rows),
      label: `embedding ${table.label}`,
    },
  );
}

/** Records gradTable (+)= scatter-add of gradOut rows by ids (deterministic, no atomics). */
export function recordEmbeddingBackward(
  recorder: CommandRecorder,
  ids: GpuTensor,
  gradOut: GpuTensor,
  gradTable: GpuTensor,
  { accumulate = true } = {},
): void {
  requireDtype(ids, 'i32');
  requireDtype(gradOut);
  requireSameDevice(ids, gradOut, gradTable);
  const { vocab, dim } = tableDims(gradTable);
  const rows = ids.size;
  requireShape(gradOut, [rows, dim]);
  checkBindingSize(recorder.device, gradTable.label, gradTable.byteLength);
  embeddingKernel.record(
    recorder,
    { pass: 'scatter', positional: false, accumulate, workgroupSize: WORKGROUP },
    {
      uniforms: { rows, dim, vocab, context: 1 },
      bindings: { ids, grad_out: gradOut, grad_table: gradTable },
      workgroups: linearGrid(recorder.device, vocab),
      label: `embedding' ${gradTable.label}`,
    },
  );
}

/** Records gradPositions[t] (+)= Σ over the batch of gradOut[b·context + t]. */
export function recordPositionGrad(
  recorder: CommandRecorder,
  gradOut: GpuTensor,
  gradPositions: GpuTensor,
  { accumulate = true } = {},
): void {
  requireDtype(gradOut);
  requireSameDevice(gradOut, gradPositions);
  const { vocab: context, dim } = tableDims(gradPositions);
  const rows = gradOut.size / dim;
  if (gradOut.shape[gradOut.shape.length - 1] !== dim) throw badValue(`${gradOut.label}.shape`, gradOut.shape, `[rows, ${dim}]`);
  embeddingKernel.record(
    recorder,
    { pass: 'position-grad', positional: true, accumulate, workgroupSize: WORKGROUP },
    {
      uniforms: { rows, dim, vocab: 0, context },
      bindings: { grad_out: gradOut, grad_positions: gradPositions },
      workgroups: linearGrid(recorder.device, context),
      label: `position-grad ${gradPositions.label}`,
    },
  );
}

export async function embedding(ids: GpuTensor, table: GpuTensor, positions?: GpuTensor): Promise<GpuTensor> {
  const out = createTensor(table.device, { shape: [ids.size, table.shape[1] ?? 0], dtype: 'f32', label: `emb(${table.label})` });
  const recorder = new CommandRecorder(table.device, 'embedding');
  recordEmbedding(recorder, ids, table, out, positions ? { table: positions } : undefined);
  await recorder.submit();
  return out;
}

export async function embeddingBackward(
  ids: GpuTensor,
  gradOut: GpuTensor,
  vocab: number,
  positionsContext?: number,
): Promise<{ table: GpuTensor; positions?: GpuTensor }> {
  const dim = gradOut.shape[1] ?? 0;
  const table = createTensor(gradOut.device, { shape: [vocab, dim], dtype: 'f32', label: 'd-table' });
  const recorder = new CommandRecorder(gradOut.device, 'embedding-backward');
  recordEmbeddingBackward(recorder, ids, gradOut, table, { accumulate: false });
  let positions: GpuTensor | undefined;
  if (positionsContext) {
    positions = createTensor(gradOut.device, { shape: [positionsContext, dim], dtype: 'f32', label: 'd-positions' });
    recordPositionGrad(recorder, gradOut, positions, { accumulate: false });
  }
  await recorder.submit();
  return { table, positions };
}

/** Float64 references. */
export function embeddingReference(
  ids: ArrayLike<number>,
  table: ArrayLike<number>,
  dim: number,
  positions?: ArrayLike<number>,
  context = 1,
): Float64Array {
  const vocab = table.length / dim;
  const out = new Float64Array(ids.length * dim);
  for (let r = 0; r < ids.length; r++) {
    const id = Math.min(Math.max(ids[r]!, 0), vocab - 1);
    for (let d = 0; d < dim; d++) out[r * dim + d] = table[id * dim + d]! + (positions ? positions[(r % context) * dim + d]! : 0);
  }
  return out;
}

export function embeddingBackwardReference(ids: ArrayLike<number>, gradOut: ArrayLike<number>, vocab: number, dim: number, context = 0) {
  const table = new Float64Array(vocab * dim);
  const positions = new Float64Array(context * dim);
  for (let r = 0; r < ids.length; r++) {
    const id = Math.min(Math.max(ids[r]!, 0), vocab - 1);
    for (let d = 0; d < dim; d++) {
      table[id * dim + d]! += gradOut[r * dim + d]!;
      if (context) positions[(r % context) * dim + d]! += gradOut[r * dim + d]!;
    }
  }
  return { table, positions };
}
