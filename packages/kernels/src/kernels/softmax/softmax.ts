import { badValue, DistilleryError, requirePositive } from '@distillery/core';
import { checkBindingSize, CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { PARTIAL_WORDS, ROW_WORDS } from '../../shared/layout.js';
import { DEFAULT_PARAMS, packRowParams } from '../../shared/params.js';
import { errorFromSummary, readSummary } from '../../shared/summary.js';
import { requireFloat, requireOneOf, requireTensor } from '../../shared/validate.js';
import { initialSummary, type FloatDType } from '../../shared/wgsl-lib.js';
import { tuningFor } from '../../shared/tuning.js';
import { planChunks, planRowGroups } from '../../shared/windows.js';
import { rowMergeProgram, rowStatsProgram, softmaxWriteProgram } from '../../programs.js';

export interface TemperedSoftmaxOptions {
  /** T > 0; the rows are softmax(z / T). Default 1. */
  temperature?: number;
  /** log_softmax(z / T) instead. Default false. */
  log?: boolean;
  /** Output dtype; default the input's. Accumulation is f32 either way. */
  outDtype?: FloatDType;
  /** 'await' (default): throw E_NON_FINITE for NaN/+Inf inputs before returning; 'lazy': call `check()` yourself. */
  check?: 'await' | 'lazy';
  /** Field name for errors. Default `input`. */
  name?: string;
}

export interface RecordedSoftmax {
  output: GpuTensor;
  /** Reads back the kernel's input flags; throws E_NON_FINITE naming the first bad row. */
  check(): Promise<void>;
  /** Hands the intermediate buffers back to the pool; call it after submitting the recorder. */
  releaseScratch(): void;
}

/**
 * Records softmax(z/T) or log_softmax(z/T) over the last dimension of `input` (any rank ≥ 1; a row
 * is the last dimension) into `recorder`: row stats per chunk, a merge per row, then the write.
 */
export function recordTemperedSoftmax(recorder: CommandRecorder, input: GpuTensor, options: TemperedSoftmaxOptions = {}): RecordedSoftmax {
  const name = options.name ?? 'input';
  requireTensor(name, input);
  const dtype = requireFloat(name, input);
  const temperature = requirePositive('temperature', options.temperature ?? 1);
  const log = Boolean(options.log);
  const outDtype = options.outDtype === undefined ? dtype : requireOneOf('outDtype', options.outDtype, ['f32', 'f16'] as const);
  if (outDtype === 'f16' && !input.device.features.has('shader-f16')) {
    throw new DistilleryError('E_UNSUPPORTED', "outDtype 'f16' needs the device feature 'shader-f16'", { field: 'outDtype', value: 'f16' });
  }
  if (input.shape.length === 0) throw badValue(`${name}.shape`, input.shape, 'at least one dimension');
  const vocab = input.shape[input.shape.length - 1]!;
  const rows = vocab === 0 ? 0 : input.size / vocab;
  const device = input.device;
  const output = createTensor(device, {
    shape: input.shape,
    dtype: outDtype,
    label: `${log ? 'log_softmax' : 'softmax'}(${input.label}/${temperature})`,
  });
  const summary = createTensor(device, { shape: [16], dtype: 'u32', label: `softmax:summary` });
  device.queue.writeBuffer(summary.buffer, 0, initialSummary());
  let checked: Promise<void> | undefined;
  const check = () =>
    (checked ??= readSummary(summary).then(async (values) => {
      summary.release();
      const error = await errorFromSummary(values, { student: name, vocab, ignoreIndex: -100 });
      if (error) throw error;
    }));
  if (rows === 0) return { output, check, releaseScratch: () => undefined };

  const vec4 = vocab % 4 === 0;
  const tuning = tuningFor(device);
  const { chunk, nChunks } = planChunks(rows, vocab, tuning);
  const partials = createTensor(device, { shape: [rows * nChunks * PARTIAL_WORDS], dtype: 'f32', label: 'softmax:partials' });
  const rowstats = createTensor(device, { shape: [rows * ROW_WORDS], dtype: 'f32', label: 'softmax:rowstats' });
  checkBindingSize(device, partials.label, partials.byteLength);
  checkBindingSize(device, rowstats.label, rowstats.byteLength);
  const groups = planRowGroups(device, rows, [
    { tensor: input, stride: vocab, field: name },
    { tensor: output, stride: vocab, field: 'output' },
  ]);
  const wg = tuning.streamWorkgroup;
  for (const group of groups) {
    const [z, out] = group.bindings;
    const uniforms = packRowParams({
      ...DEFAULT_PARAMS,
      rows: group.end - group.start,
      rowBase: group.start,
      totalRows: rows,
      vocab,
      cols: vocab,
      zStride: vocab,
      zShift: z!.shift,
      gShift: out!.shift,
      chunk,
      nChunks,
      invT: 1 / temperature,
    });
    const n = group.end - group.start;
    recorder.dispatch({
      program: rowStatsProgram,
      variant: { student: dtype, teacher: null, vec4, workgroupSize: wg, t1: 'same' },
      uniforms,
      bindings: [z!.binding, partials, summary],
      workgroups: linearGrid(device, n * nChunks),
      label: 'softmax:row-stats',
    });
    recorder.dispatch({
      program: rowMergeProgram,
      variant: {
        teacher: 'none',
        labels: false,
        student: dtype,
        divergence: 'forward-kl',
        tail: 'ignore',
        tailMass: false,
        workgroupSize: 64,
      },
      uniforms,
      bindings: [partials, rowstats, summary],
      workgroups: linearGrid(device, Math.ceil(n / 64)),
      label: 'softmax:row-merge',
    });
    recorder.dispatch({
      program: softmaxWriteProgram,
      variant: { input: dtype, output: outDtype, vec4, log, workgroupSize: wg },
      uniforms,
      bindings: [z!.binding, rowstats, out!.binding],
      workgroups: linearGrid(device, n * nChunks),
      label: `softmax:write`,
    });
  }
  return {
    output,
    check,
    releaseScratch: () => {
      partials.release();
      rowstats.release();
    },
  };
}

/** softmax(z/T) (or log_softmax with `log: true`) over the last dimension, f32 accumulation. */
export async function temperedSoftmax(input: GpuTensor, options: TemperedSoftmaxOptions = {}): Promise<GpuTensor> {
  requireTensor(options.name ?? 'input', input);
  const recorder = new CommandRecorder(input.device, 'tempered-softmax');
  const { output, check, releaseScratch } = recordTemperedSoftmax(recorder, input, options);
  await recorder.submit();
  releaseScratch();
  if ((options.check ?? 'await') === 'await') {
    try {
      await check();
    } catch (error) {
      output.release();
      throw error;
    }
  }
  return output;
}
