import type { Loss, Optimizer, Student } from '@distillery/core';
import { CrossEntropyLoss, KdLoss } from '@distillery/kernels';
import { AdamW, MlpClassifier } from '@distillery/nn';
import type { GpuTensor } from '@distillery/webgpu';
import type { TransferBatch } from '@distillery/white-box';

/** The architecture knobs of one MLP in the demo. */
export interface MlpSpec {
  hidden: number[];
  dropout: number;
  inputJitter: number;
}

/** Builds the demo's models, optimisers and losses on one device. */
export function demoToolkit(device: GPUDevice) {
  return {
    mlp(spec: MlpSpec, seed: number, _label: string): { student: Student<TransferBatch, GpuTensor>; optimizer: Optimizer<GpuTensor> } {
      const student = MlpClassifier.create(device, {
        inputSize: 784,
        hidden: spec.hidden,
        classes: 10,
        dropout: spec.dropout,
        inputJitter: spec.inputJitter,
        seed,
      });
      return { student, optimizer: new AdamW({ weightDecay: 0 }) };
    },
    /** Hard-label cross-entropy (no teacher) or Hinton's KD loss (with one). */
    loss(withTeacher: boolean): Loss<GpuTensor> {
      return withTeacher ? new KdLoss({ divergence: 'forward-kl' }) : new CrossEntropyLoss();
    },
  };
}
