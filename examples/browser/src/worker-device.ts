/**
 * The device half both workers share: acquire a device, tell the page which adapter it got, and
 * turn a lost device into an E_DEVICE_LOST message (the page must never wait on a dead worker).
 */
import { acquireDevice, type AcquiredDevice } from '@distillery/webgpu';

type DeviceMessage =
  { type: 'adapter'; name: string; fallback: boolean; features: string[] } | { type: 'error'; code: string; message: string };

export interface WorkerDevice extends AcquiredDevice {
  /** Why the device was lost, once it has been; undefined while it is alive. */
  lostReason(): string | undefined;
}

export async function acquireWorkerDevice(label: string, post: (message: DeviceMessage) => void): Promise<WorkerDevice> {
  const acquired = await acquireDevice({ label });
  let lostReason: string | undefined;
  void acquired.device.lost.then((lost) => {
    lostReason = `${lost.reason}: ${lost.message}`;
    if (lost.reason !== 'destroyed')
      post({ type: 'error', code: 'E_DEVICE_LOST', message: `The GPU device was lost (${lostReason}). Reload the page to start again.` });
  });
  const { info, adapter } = acquired;
  post({
    type: 'adapter',
    name: [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ') || 'unknown adapter',
    fallback: info.isFallback,
    features: [...adapter.features].sort(),
  });
  return { ...acquired, lostReason: () => lostReason };
}
