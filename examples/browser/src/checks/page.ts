/**
 * checks.html: the kernel checks and the training steps, run in the page. The browser tests read
 * `window.distilleryChecks`; a person sees the same results as text.
 */
import { acquireDevice } from '@distillery/webgpu';
import { runKernelChecks, type KernelCheck } from './kernel-checks.js';
import { runTrainingSteps, type TrainingStepsResult } from './training-steps.js';

export interface ChecksReport {
  adapter?: { vendor: string; architecture: string; description: string; features: string[] };
  kernels?: KernelCheck[];
  training?: TrainingStepsResult;
  kernelMilliseconds?: number;
  error?: { code?: string; message: string };
}

declare global {
  interface Window {
    distilleryChecks?: Promise<ChecksReport>;
    /** Warm timings (pipelines compiled by the checks): kernel checks and training steps, ms. For docs/browser.md. */
    distilleryTiming?: () => Promise<{ kernelsMs: number; trainingMs: number }>;
  }
}

async function run(): Promise<ChecksReport> {
  const report: ChecksReport = {};
  try {
    const { device, adapter, info } = await acquireDevice({ label: 'distillery-checks' });
    report.adapter = {
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description,
      features: [...adapter.features].sort(),
    };
    const started = performance.now();
    report.kernels = await runKernelChecks(device);
    report.kernelMilliseconds = performance.now() - started;
    report.training = await runTrainingSteps(device);
  } catch (error) {
    report.error = { code: (error as { code?: string }).code, message: (error as Error).message };
  }
  document.getElementById('out')!.textContent = JSON.stringify(report, null, 2);
  return report;
}

window.distilleryChecks = run();
window.distilleryTiming = async () => {
  await window.distilleryChecks;
  const { device } = await acquireDevice({ label: 'distillery-timing' });
  await runKernelChecks(device);
  await runTrainingSteps(device);
  let started = performance.now();
  await runKernelChecks(device);
  const kernelsMs = performance.now() - started;
  started = performance.now();
  await runTrainingSteps(device, { epochs: 4 });
  return { kernelsMs, trainingMs: performance.now() - started };
};
