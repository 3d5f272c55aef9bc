import { kdLoss } from '@distillery/kernels';
import { recordBiasGrad, recordMatmul } from '@distillery/nn';
import { CommandRecorder, createTensor } from '@distillery/webgpu';
import type { FusedLinearKdOptions, FusedLinearKdResult } from './fused-linear-kd.js';

/**
 * The same computation without chunking: the whole `[rows, V]` logits and gradient at once. The
 * reference for the fused path's tests and its benchmark baseline. Resolves once all its GPU work,
 * the backward matmuls included, is done.
 */
export async function unfusedLinearKdLoss(
  options: Omit<FusedLinearKdOptions, 'chunkRows' | 'chunkBytes' | 'perRow'>,
): Promise<FusedLinearKdResult> {
  const { hidden, weight, bias, teacher, labels, gradHidden, gradWeight, gradBias } = options;
  const device = hidden.device;
  const rows = hidden.shape[0]!;
  const logits = createTensor(device, { shape: [rows, weight.shape[0]!], dtype: 'f32', label: 'unfused-logits' });
  const forward = new CommandRecorder(device, 'unfused-linear');
  recordMatmul(forward, hidden, weight, logits, { transB: true, bias });
  await forward.submit();
  const loss = await kdLoss({ ...options.kd, studentLogits: logits, teacher, labels, normalizer: options.normalizer });
  const backward = new CommandRecorder(device, 'unfused-linear-backward');
  recordMatmul(backward, loss.gradLogits, weight, gradHidden);
  recordMatmul(backward, loss.gradLogits, hidden, gradWeight, { transA: true, accumulate: true });
  if (gradBias) recordBiasGrad(backward, loss.gradLogits, gradBias, { accumulate: true });
  await backward.submit();
  // The loss was read back (check 'await') before the backward was even submitted: wait for the
  // backward matmuls too, so that the call resolves with gradHidden/gradWeight written.
  await device.queue.onSubmittedWorkDone();
  const total = await loss.total();
  const counted = await loss.rows();
  const terms: FusedLinearKdResult['terms'] = {};
  for (const [name, term] of Object.entries(loss.terms)) terms[name as 'soft' | 'hard'] = await term.reduced();
  loss.release();
  logits.release();
  return { total, rows: counted, terms, chunkRows: rows, chunks: 1, copies: 0 };
}
