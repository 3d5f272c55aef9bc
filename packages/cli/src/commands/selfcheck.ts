import { acquireDevice, CommandRecorder, createTensor, readTensor, recordCopy, scale, uploadTensor } from '@distillery/webgpu';
import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../command.js';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** Copies `bytes` once to warm up, then `runs` times timed; returns the median GB/s (read + write). */
async function copyBandwidth(device: GPUDevice, bytes: number, runs: number): Promise<number> {
  const src = createTensor(device, { shape: [bytes / 4], dtype: 'u32', label: 'selfcheck-src' });
  const dst = createTensor(device, { shape: [bytes / 4], dtype: 'u32', label: 'selfcheck-dst' });
  const samples: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const recorder = new CommandRecorder(device, 'selfcheck-copy');
    recordCopy(recorder, src, dst);
    const { ms } = await recorder.submitTimed();
    if (i > 0) samples.push(ms);
  }
  src.release();
  dst.release();
  samples.sort((a, b) => a - b);
  return (2 * bytes) / (samples[samples.length >> 1]! * 1e6);
}

export const selfcheckCommand: CliCommand = {
  name: 'selfcheck',
  summary: 'Acquire the WebGPU adapter, run the kernels against references, print the adapter and its copy bandwidth',
  usage: `Usage: distillery selfcheck [--json] [--megabytes N]

Acquires a WebGPU adapter (Dawn through the \`webgpu\` package in Node), checks that kernels
compile and agree with their float64 references, and measures streaming copy bandwidth.
  --json          print the result as one JSON object
  --megabytes N   size of the bandwidth probe buffer (default 32)`,
  async run(argv, io) {
    const { values } = parseCommandArgs(
      'selfcheck',
      argv,
      { json: { type: 'boolean' }, megabytes: { type: 'string', default: '32' } },
      false,
    );
    const megabytes = Number(values.megabytes);
    if (!(Number.isInteger(megabytes) && megabytes >= 1 && megabytes <= 1024)) {
      const { badValue } = await import('@distillery/core');
      throw badValue('--megabytes', values.megabytes, 'an integer in [1, 1024]');
    }
    const { device, info } = await acquireDevice({ label: 'distillery-selfcheck' });
    const checks: Check[] = [];

    const n = 100_003;
    const words = Uint32Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 0);
    const src = uploadTensor(device, { shape: [n], dtype: 'u32', data: words }, 'check-src');
    const dst = createTensor(device, { shape: [n], dtype: 'u32', label: 'check-dst' });
    const recorder = new CommandRecorder(device, 'selfcheck');
    recordCopy(recorder, src, dst);
    await recorder.submit();
    const copied = (await readTensor(dst)).data;
    const copyOk = copied.every((v, i) => v === words[i]);
    checks.push({ name: 'copy kernel', ok: copyOk, detail: `${n} words ${copyOk ? 'identical' : 'DIFFER'}` });

    const x = Float32Array.from({ length: 4099 }, (_, i) => Math.sin(i) * 100);
    const y = (await readTensor(await scale(uploadTensor(device, { shape: [x.length], dtype: 'f32', data: x }, 'check-x'), 0.5)))
      .data as Float32Array;
    const maxError = y.reduce((m, v, i) => Math.max(m, Math.abs(v - 0.5 * x[i]!)), 0);
    checks.push({ name: 'scale kernel', ok: maxError <= 1e-4, detail: `max |error| vs float64 ${maxError.toExponential(2)}` });

    const gbps = await copyBandwidth(device, megabytes << 20, 5);
    const ok = checks.every((c) => c.ok);
    const result = {
      ok,
      adapter: info,
      features: [...device.features].sort(),
      limits: { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize },
      checks,
      copyBandwidthGBps: gbps,
    };
    if (values.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const name = [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || info.description;
      io.stdout(
        [
          `adapter    ${name}${info.isFallback ? ' (software)' : ''}`,
          `backend    ${info.backend}; ${info.description}`,
          `features   ${result.features.join(', ')}`,
          ...checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}       ${c.name}: ${c.detail}`),
          `bandwidth  ${gbps.toFixed(2)} GB/s streaming copy (${megabytes} MiB, median of 5)`,
          ok ? 'selfcheck passed' : 'selfcheck FAILED',
          '',
        ].join('\n'),
      );
    }
    device.destroy();
    return ok ? 0 : 1;
  },
};
