import { DistilleryError } from '@distillery/core';

/**
 * Spreads `workgroups` over x and y so no axis exceeds the device's per-dimension limit
 * (65,535 by default). A kernel recovers its linear workgroup index as `wid.x + wid.y * nwg.x`.
 */
export function linearGrid(device: GPUDevice, workgroups: number): [number, number] {
  const limit = device.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups <= limit) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / limit);
  if (y > limit) {
    throw new DistilleryError('E_LIMIT_EXCEEDED', `${workgroups} workgroups exceed maxComputeWorkgroupsPerDimension² (${limit}²)`, {
      field: 'workgroups',
      value: workgroups,
      limit: 'maxComputeWorkgroupsPerDimension',
    });
  }
  return [Math.ceil(workgroups / y), y];
}

/** Throws E_LIMIT_EXCEEDED when one binding would exceed the device's storage-binding limit. */
export function checkBindingSize(device: GPUDevice, field: string, bytes: number): void {
  const limit = device.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new DistilleryError(
      'E_LIMIT_EXCEEDED',
      `${field} needs a ${bytes}-byte storage binding, above this device's maxStorageBufferBindingSize (${limit} bytes); split the batch`,
      {
        field,
        value: bytes,
        limit: 'maxStorageBufferBindingSize',
        limitBytes: limit,
      },
    );
  }
}
