import { badValue, DistilleryError, shapeMismatch, type TeacherTargets } from '@distillery/core';
import { recordKdLoss, type KdLossOptions, type RowLossResult } from '@distillery/kernels';
import { recordBiasGrad, recordMatmul } from '@distillery/nn';
import { CommandRecorder, createTensor, readTensor, type GpuTensor } from '@distillery/webgpu';

/** KD settings of the fused path: everything `kdLoss` takes except the tensors and the normaliser. */
export type FusedKdSettings = Omit<
  KdLossOptions,
  'studentLogits' | 'teacher' | 'labels' | 'normalizer' | 'check' | 'names' | 'gradDtype' | 'rowWeights'
>;

export interface FusedLinearKdOptions {
  /** `[rows, H]` the student's last hidden states. */
  hidden: GpuTensor;
  /** `[V, H]` the output projection, stored like a PyTorch `Linear` weight. */
  weight: GpuTensor;
  /** `[V]` output bias. */
  bias?: GpuTensor;
  /** Dense teacher logits `[rows, V]` or top-k targets `[rows, k]`; absent only when `kd.softWeight` is 0. */
  teacher?: TeacherTargets<GpuTensor>;
  /** `[rows]` i32 labels for the hard term; `ignoreIndex` rows are skipped. */
  labels?: GpuTensor;
  kd: FusedKdSettings;
  /** Divide by this instead of the number of non-ignored rows of the whole batch. */
  normalizer?: number;
  /** Receives dL/dhidden `[rows, H]` (overwritten). */
  gradHidden: GpuTensor;
  /** dL/dweight `[V, H]`, accumulated into (zero it first for a fresh gradient). */
  gradWeight: GpuTensor;
  /** dL/dbias `[V]`, accumulated into. */
  gradBias?: GpuTensor;
  /** Rows per chunk; default from `chunkBytes`. */
  chunkRows?: number;
  /** Budget for one chunk's logits (default 16 MiB, capped by the storage-binding limit). */
  chunkBytes?: number;
  /** `[rows]` f32 tensors that receive each row's terms as they enter the total (not divided by the normaliser). */
  perRow?: { total?: GpuTensor; soft?: GpuTensor; hard?: GpuTensor };
}

export interface FusedLinearKdResult {
  /** Σ over rows of the loss ÷ normalizer. */
  total: number;
  /** Rows that entered the normaliser. */
  rows: number;
  /** Each term (`soft` with a teacher, `hard` with labels) summed over rows ÷ normalizer. */
  terms: Partial<Record<'soft' | 'hard', number>>;
  chunkRows: number;
  chunks: number;
}

/**
 * Chunk size: as many rows as fit the byte budget, in multiples of 64 so every chunk is a full
 * matmul tile (small chunks starve the matmul; that is how chunked losses end up slower than
 * unfused ones), never fewer than 64 rows.
 */
export function chooseChunkRows(device: GPUDevice, rows: number, vocab: number, chunkBytes = 16 << 20): number {
  const budget = Math.min(chunkBytes, device.limits.maxStorageBufferBindingSize);
  const fit = Math.floor(budget / (vocab * 4));
  const tiled = Math.max(64, Math.floor(fit / 64) * 64);
  return Math.min(rows, tiled);
}

/** Copies rows [first, first + n) of a row-major tensor into `into` (which holds n rows). */
function copyRows(encoder: GPUCommandEncoder, from: GpuTensor, into: GpuTensor, first: number, n: number): void {
  const rowBytes = from.byteLength / from.shape[0]!;
  encoder.copyBufferToBuffer(from.buffer, first * rowBytes, into.buffer, 0, Math.ceil((n * rowBytes) / 4) * 4);
}

function chunkOf(device: GPUDevice, like: GpuTensor, rows: number, label: string): GpuTensor {
  return createTensor(device, { shape: [rows, ...like.shape.slice(1)], dtype: like.dtype, label });
}

/**
 * Linear output layer + KD loss without a `[rows, V]` logits tensor for the whole batch: per chunk
 * of rows, logits = hidden·Wᵀ + b → fused KD loss and dL/dlogits → dL/dhidden = g·W and
 * dL/dW += gᵀ·hidden (and dL/db += Σ g). Peak memory is one chunk's logits and gradient.
 * Resolves once all its GPU work is done (gradHidden and gradWeight written).
 */
export async function fusedLinearKdLoss(options: FusedLinearKdOptions): Promise<FusedLinearKdResult> {
  const { hidden, weight, bias, teacher, labels, gradHidden, gradWeight, gradBias } = options;
  const device = hidden.device;
  if (hidden.shape.length !== 2) throw shapeMismatch('hidden', hidden.shape, '[rows, H]');
  const [rows, width] = hidden.shape as [number, number];
  if (weight.shape.length !== 2 || weight.shape[1] !== width) throw shapeMismatch('weight', weight.shape, `[V, ${width}]`);
  const vocab = weight.shape[0]!;
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== vocab)) throw shapeMismatch('bias', bias.shape, `[${vocab}]`);
  if (gradHidden.shape[0] !== rows || gradHidden.shape[1] !== width)
    throw shapeMismatch('gradHidden', gradHidden.shape, `[${rows}, ${width}]`);
  if (gradWeight.shape[0] !== vocab || gradWeight.shape[1] !== width)
    throw shapeMismatch('gradWeight', gradWeight.shape, `[${vocab}, ${width}]`);
  if ((options.kd as { rowWeights?: unknown }).rowWeights !== undefined) {
    // Row weights would have to be cut into chunks like the labels; until then, refuse rather than drop them.
    throw new DistilleryError(
      'E_UNSUPPORTED',
      'the fused linear + KD loss does not apply row weights (kd.rowWeights); use the unfused path',
      { field: 'kd.rowWeights' },
    );
  }
  for (const [name, t] of Object.entries(options.perRow ?? {}))
    if (t && (t.shape.length !== 1 || t.shape[0] !== rows)) throw shapeMismatch(`perRow.${name}`, t.shape, `[${rows}]`);
  const teacherTensors = !teacher
    ? []
    : teacher.kind === 'dense'
      ? [teacher.logits]
      : [teacher.indices, teacher.logprobs, ...(teacher.tailMass ? [teacher.tailMass] : [])];
  for (const t of teacherTensors) if (t.shape[0] !== rows) throw shapeMismatch(`teacher.${t.label}`, t.shape, `${rows} rows like hidden`);
  if (labels && labels.shape[0] !== rows) throw shapeMismatch('labels', labels.shape, `[${rows}]`);

  // The normaliser spans the whole batch, not each chunk: count the non-ignored rows once.
  let normalizer = options.normalizer;
  if (normalizer === undefined) {
    const ignore = options.kd.ignoreIndex ?? -100;
    normalizer = labels ? ((await readTensor(labels)).data as Int32Array).reduce((n, y) => n + (y === ignore ? 0 : 1), 0) : rows;
  }
  if (!(normalizer > 0)) {
    throw new DistilleryError('E_BAD_VALUE', `every row of labels is ignoreIndex: nothing to normalise by (pass normalizer explicitly)`, {
      field: 'labels',
    });
  }
  const chunkRows = options.chunkRows ?? chooseChunkRows(device, rows, vocab, options.chunkBytes);
  if (!(Number.isInteger(chunkRows) && chunkRows >= 1)) throw badValue('chunkRows', chunkRows, 'an integer >= 1');

  const scratch: GpuTensor[] = [];
  const make = (like: GpuTensor, n: number, label: string) => {
    const t = chunkOf(device, like, n, label);
    scratch.push(t);
    return t;
  };
  let chunks = 0;
  // Each chunk's loss keeps only its summary (and [n] per-row terms) alive: its logits, gradient and
  // scratch go back to the pool once the chunk is submitted (queue order keeps reuse safe). The
  // summaries are read together after the last chunk, so the chunks are never serialised by a
  // readback, and the sums are taken in float64 on the host.
  const losses: RowLossResult[] = [];
  try {
    for (let first = 0; first < rows; first += chunkRows) {
      const n = Math.min(chunkRows, rows - first);
      chunks++;
      const hiddenChunk = make(hidden, n, 'fused-hidden-chunk');
      const teacherChunks = teacherTensors.map((t, i) => make(t, n, `fused-teacher-chunk-${i}`));
      const labelsChunk = labels ? make(labels, n, 'fused-labels-chunk') : undefined;
      const encoder = device.createCommandEncoder({ label: 'fused-linear-kd:gather' });
      copyRows(encoder, hidden, hiddenChunk, first, n);
      teacherTensors.forEach((t, i) => copyRows(encoder, t, teacherChunks[i]!, first, n));
      if (labels) copyRows(encoder, labels, labelsChunk!, first, n);
      device.queue.submit([encoder.finish()]);

      const logits = createTensor(device, { shape: [n, vocab], dtype: 'f32', label: 'fused-logits-chunk' });
      scratch.push(logits);
      const recorder = new CommandRecorder(device, 'fused-linear-kd');
      recordMatmul(recorder, hiddenChunk, weight, logits, { transB: true, bias });
      const chunkTeacher: TeacherTargets<GpuTensor> | undefined = !teacher
        ? undefined
        : teacher.kind === 'dense'
          ? { kind: 'dense', logits: teacherChunks[0]! }
          : { kind: 'topk', k: teacher.k, indices: teacherChunks[0]!, logprobs: teacherChunks[1]!, tailMass: teacherChunks[2] };
      const loss = recordKdLoss(recorder, {
        ...options.kd,
        studentLogits: logits,
        teacher: chunkTeacher,
        labels: labelsChunk,
        normalizer,
        check: 'lazy',
      });
      losses.push(loss);
      const gradHiddenChunk = make(gradHidden, n, 'fused-grad-hidden-chunk');
      recordMatmul(recorder, loss.gradLogits, weight, gradHiddenChunk);
      recordMatmul(recorder, loss.gradLogits, hiddenChunk, gradWeight, { transA: true, accumulate: true });
      if (gradBias) recordBiasGrad(recorder, loss.gradLogits, gradBias, { accumulate: true });
      await recorder.submit();
      const scatter = device.createCommandEncoder({ label: 'fused-linear-kd:scatter' });
      const rowBytes = width * 4;
      scatter.copyBufferToBuffer(gradHiddenChunk.buffer, 0, gradHidden.buffer, first * rowBytes, n * rowBytes);
      for (const name of ['total', 'soft', 'hard'] as const) {
        const into = options.perRow?.[name];
        if (into) scatter.copyBufferToBuffer(loss.perRow[name].buffer, 0, into.buffer, first * 4, n * 4);
      }
      device.queue.submit([scatter.finish()]);
      loss.releaseScratch();
      loss.gradLogits.release();
      for (const t of scratch.splice(0)) t.release();
    }
    // One wait for the whole step: every chunk's summary is mapped at once; then the last chunk's
    // gradient scatter (queued after its summary) too, so the call resolves with gradHidden written.
    const totals = await Promise.all(losses.map((loss) => loss.total()));
    await device.queue.onSubmittedWorkDone();
    const terms: Partial<Record<'soft' | 'hard', number>> = {};
    for (const loss of losses) {
      for (const [name, term] of Object.entries(loss.terms))
        terms[name as 'soft' | 'hard'] = (terms[name as 'soft' | 'hard'] ?? 0) + (await term.reduced());
    }
    return { total: totals.reduce((a, b) => a + b, 0), rows: normalizer, terms, chunkRows, chunks };
  } finally {
    for (const t of scratch) t.release();
    for (const loss of losses) loss.release();
  }
}
