import { badValue, DistilleryError, shapeMismatch, type TeacherTargets } from '@distillery/core';
import { recordKdLoss, rowWindow, WindowRecorder, type KdLossOptions, type RowLossResult } from '@distillery/kernels';
import { recordBiasGrad, recordMatmul } from '@distillery/nn';
import { createTensor, readTensor, type GpuTensor } from '@distillery/webgpu';

/** KD settings of the fused path: everything `kdLoss` takes except the tensors and the normaliser. */
export type FusedKdSettings = Omit<
  KdLossOptions,
  'studentLogits' | 'teacher' | 'labels' | 'normalizer' | 'check' | 'names' | 'gradDtype' | 'rowWeights' | 'inPlace' | 'perRow'
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
  /**
   * Row ranges copied (gathered in, or scattered out) because their window's byte offset was not a
   * multiple of the device's minStorageBufferOffsetAlignment; 0 when every chunk starts aligned.
   */
  copies: number;
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

/** Copies rows [first, first + n) of a row-major tensor into `into` (which holds n rows), or back with `out`. */
function copyRows(encoder: GPUCommandEncoder, full: GpuTensor, chunk: GpuTensor, first: number, n: number, out = false): void {
  const rowBytes = full.byteLength / full.shape[0]!;
  // Whole words: f16 rows of odd length round up (the tail word of `full` is then read or written whole).
  const bytes = Math.ceil((n * rowBytes) / 4) * 4;
  if (out) encoder.copyBufferToBuffer(chunk.buffer, 0, full.buffer, first * rowBytes, bytes);
  else encoder.copyBufferToBuffer(full.buffer, first * rowBytes, chunk.buffer, 0, bytes);
}

function chunkOf(device: GPUDevice, like: GpuTensor, rows: number, label: string): GpuTensor {
  return createTensor(device, { shape: [rows, ...like.shape.slice(1)], dtype: like.dtype, label });
}

/**
 * Linear output layer + KD loss without a `[rows, V]` logits tensor for the whole batch, like
 * Liger-Kernel's fused linear cross-entropy: per chunk of rows, logits = hidden·Wᵀ + b → the fused
 * KD loss overwrites the chunk's logits with dL/dlogits (in place) → dL/dhidden = g·W and
 * dL/dW += gᵀ·hidden (and dL/db += Σ g). Peak memory is one chunk's logits. The chunk's rows of
 * hidden, teacher, labels, gradHidden and the per-row outputs are bound as row windows of the full
 * tensors — no copies — except where a window's offset cannot be aligned (`copies` counts those).
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
  let chunks = 0;
  let copies = 0;
  // Each chunk's loss keeps only its summary (and any per-row terms it made) alive: its logits and
  // scratch go back to the pool once the chunk is submitted (queue order keeps reuse safe). The
  // summaries are read together after the last chunk, so the chunks are never serialised by a
  // readback, and the sums are taken in float64 on the host.
  const losses: RowLossResult[] = [];
  try {
    for (let first = 0; first < rows; first += chunkRows) {
      const n = Math.min(chunkRows, rows - first);
      chunks++;
      let gather: GPUCommandEncoder | undefined;
      let scatter: GPUCommandEncoder | undefined;
      const made = (like: GpuTensor, label: string) => {
        const t = chunkOf(device, like, n, label);
        scratch.push(t);
        copies++;
        return t;
      };
      // A window of the caller's rows where its offset aligns, else a copy of them.
      const rowsIn = (t: GpuTensor, label: string): GpuTensor => {
        const window = rowWindow(t, first, n);
        if (window) return window;
        const chunk = made(t, label);
        copyRows((gather ??= device.createCommandEncoder({ label: 'fused-linear-kd:gather' })), t, chunk, first, n);
        return chunk;
      };
      const rowsOut = (t: GpuTensor, label: string): GpuTensor => {
        const window = rowWindow(t, first, n);
        if (window) return window;
        const chunk = made(t, label);
        copyRows((scatter ??= device.createCommandEncoder({ label: 'fused-linear-kd:scatter' })), t, chunk, first, n, true);
        return chunk;
      };
      const hiddenRows = rowsIn(hidden, 'fused-hidden-chunk');
      const teacherRows = teacherTensors.map((t, i) => rowsIn(t, `fused-teacher-chunk-${i}`));
      const labelRows = labels ? rowsIn(labels, 'fused-labels-chunk') : undefined;
      if (gather) device.queue.submit([gather.finish()]);

      const logits = createTensor(device, { shape: [n, vocab], dtype: 'f32', label: 'fused-logits-chunk' });
      scratch.push(logits);
      const recorder = new WindowRecorder(device, 'fused-linear-kd');
      recordMatmul(recorder, hiddenRows, weight, logits, { transB: true, bias });
      const chunkTeacher: TeacherTargets<GpuTensor> | undefined = !teacher
        ? undefined
        : teacher.kind === 'dense'
          ? { kind: 'dense', logits: teacherRows[0]! }
          : { kind: 'topk', k: teacher.k, indices: teacherRows[0]!, logprobs: teacherRows[1]!, tailMass: teacherRows[2] };
      // Output windows are recorded into the scatter encoder (when they need a copy) after the recorder.
      const perRow: { total?: GpuTensor; soft?: GpuTensor; hard?: GpuTensor } = {};
      const gradHiddenRows = rowsOut(gradHidden, 'fused-grad-hidden-chunk');
      for (const name of ['total', 'soft', 'hard'] as const) {
        const into = options.perRow?.[name];
        if (into) perRow[name] = rowsOut(into, `fused-${name}-chunk`);
      }
      const loss = recordKdLoss(recorder, {
        ...options.kd,
        studentLogits: logits,
        teacher: chunkTeacher,
        labels: labelRows,
        normalizer,
        check: 'lazy',
        inPlace: true,
        perRow,
      });
      losses.push(loss);
      // `logits` now holds dL/dlogits.
      recordMatmul(recorder, logits, weight, gradHiddenRows);
      recordMatmul(recorder, logits, hiddenRows, gradWeight, { transA: true, accumulate: true });
      if (gradBias) recordBiasGrad(recorder, logits, gradBias, { accumulate: true });
      await recorder.submit();
      if (scatter) device.queue.submit([scatter.finish()]);
      loss.releaseScratch();
      for (const t of scratch.splice(0)) t.release();
    }
    // One wait for the whole step: every chunk's summary is mapped at once; then the last chunk's
    // backward (and any scatter, queued after its summary) too, so the call resolves with gradHidden written.
    const totals = await Promise.all(losses.map((loss) => loss.total()));
    await device.queue.onSubmittedWorkDone();
    const terms: Partial<Record<'soft' | 'hard', number>> = {};
    for (const loss of losses) {
      for (const [name, term] of Object.entries(loss.terms))
        terms[name as 'soft' | 'hard'] = (terms[name as 'soft' | 'hard'] ?? 0) + (await term.reduced());
    }
    return { total: totals.reduce((a, b) => a + b, 0), rows: normalizer, terms, chunkRows, chunks, copies };
  } finally {
    for (const t of scratch) t.release();
    for (const loss of losses) loss.release();
  }
}
