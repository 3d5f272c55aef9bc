import type { GpuTensor } from '@distillery/webgpu';

/**
 * A batch of a transfer set. `ids` are the examples' positions in the transfer set: offline
 * teacher caches are keyed by them. `labels` is absent for an unlabelled transfer set.
 */
export interface TransferBatch {
  inputs: GpuTensor;
  labels?: GpuTensor;
  rows: number;
  ids: Uint32Array;
}
