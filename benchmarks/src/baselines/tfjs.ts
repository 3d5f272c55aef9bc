import { getGpu } from '@distillery/webgpu';
import type { HostKdHyper } from './cpu.js';

type Tf = typeof import('@tensorflow/tfjs-core');
type TfTensor = import('@tensorflow/tfjs-core').Tensor;

interface WebGpuBackendLike {
  device: GPUDevice;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

let loaded: Promise<Tf> | undefined;

/**
 * @tensorflow/tfjs-core with the WebGPU backend, in Node: tfjs looks for `navigator.gpu`, so the
 * Dawn GPU object of the `webgpu` package is put there first. tfjs creates its own device on the
 * same adapter.
 */
export function loadTfjs(): Promise<Tf> {
  loaded ??= (async () => {
    const gpu = await getGpu();
    const g = globalThis as { navigator?: { gpu?: GPU } };
    if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    // Autodiff (the train suite's MLP baseline) needs the gradient registry: tfjs-core's Node
    // bundle lacks it; the union package registers it into the same global engine.
    await import('@tensorflow/tfjs');
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise');
    await tf.ready();
    return tf;
  })();
  return loaded;
}

/** Flushes tfjs's batched commands and waits for its GPU queue. */
export async function tfjsSync(tf: Tf): Promise<void> {
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  // tfjs batches dispatches in an open compute pass: end it, then submit what is recorded.
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  await backend.device.queue.onSubmittedWorkDone();
}

/**
 * The same loss and gradient as the fused kernel composed from tfjs ops (what a JS user would
 * write today): forward or reverse KL at T (× T²) plus cross-entropy at T = 1, ÷ rows; returns [loss, grad].
 */
export function tfjsKdLoss(
  tf: Tf,
  z: TfTensor,
  t: TfTensor,
  labels: TfTensor,
  { temperature: T, softWeight, hardWeight, divergence = 'forward-kl' }: HostKdHyper,
): [TfTensor, TfTensor] {
  return tf.tidy(() => {
    const [rows, vocab] = z.shape as [number, number];
    const ls = tf.logSoftmax(tf.div(z, T));
    const lt = tf.logSoftmax(tf.div(t, T));
    const ps = tf.exp(ls);
    const pt = tf.exp(lt);
    const ls1 = tf.logSoftmax(z);
    const onehot = tf.oneHot(labels as import('@tensorflow/tfjs-core').Tensor1D, vocab, 1, 0, 'float32');
    let kl: TfTensor;
    let softGrad: TfTensor;
    if (divergence === 'forward-kl') {
      kl = tf.sum(tf.mul(pt, tf.sub(lt, ls)));
      softGrad = tf.sub(ps, pt);
    } else {
      // KL(q‖p) per row, and its gradient w.r.t. z/T: q (ln q − ln p − D).
      const logRatio = tf.sub(ls, lt);
      const perRow = tf.sum(tf.mul(ps, logRatio), -1, true);
      kl = tf.sum(perRow);
      softGrad = tf.mul(ps, tf.sub(logRatio, perRow));
    }
    const ce = tf.neg(tf.sum(tf.mul(onehot, ls1)));
    const loss = tf.div(tf.add(tf.mul(kl, softWeight * T * T), tf.mul(ce, hardWeight)), rows);
    const grad = tf.div(tf.add(tf.mul(softGrad, softWeight * T), tf.mul(tf.sub(tf.exp(ls1), onehot), hardWeight)), rows);
    return [loss, grad];
  });
}

export function tfjsSoftmax(tf: Tf, z: TfTensor, temperature: number): TfTensor {
  return tf.tidy(() => tf.softmax(tf.div(z, temperature)));
}
