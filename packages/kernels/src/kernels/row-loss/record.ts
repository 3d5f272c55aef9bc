import { checkBindingSize, CommandRecorder, createTensor, linearGrid, type GpuTensor } from '@distillery/webgpu';
import { PARTIAL_WORDS, ROW_WORDS } from '../../shared/layout.js';
import { packRowParams } from '../../shared/params.js';
import { initialSummary } from '../../shared/wgsl-lib.js';
import { tuningFor } from '../../shared/tuning.js';
import { planChunks, planRowGroups, type RowGroup, type RowTensor } from '../../shared/windows.js';
import {
  kdDivergenceMergeProgram,
  kdDivergenceProgram,
  kdFinalizeProgram,
  kdGradientProgram,
  kdTopkScatterProgram,
  rowMergeProgram,
  rowStatsProgram,
} from '../../programs.js';
import type { CheckMode, RowLossPlan } from './plan.js';
import { RowLossResult } from './result.js';

/** Records the whole loss (4–7 dispatches per row group) into `recorder`; nothing is submitted. */
export function recordRowLoss(recorder: CommandRecorder, plan: RowLossPlan): RowLossResult {
  const { device, rows, vocab, student, teacher, labels, rowWeights, divergence } = plan;
  const label = plan.termNames.includes('soft') ? `kd-loss(${divergence})` : 'cross-entropy';
  const grad = createTensor(device, { shape: [rows, vocab], dtype: plan.gradDtype, label: `${label}:gradLogits` });
  const perRow = {
    soft: createTensor(device, { shape: [rows], dtype: 'f32', label: `${label}:soft` }),
    hard: createTensor(device, { shape: [rows], dtype: 'f32', label: `${label}:hard` }),
    total: createTensor(device, { shape: [rows], dtype: 'f32', label: `${label}:total` }),
  };
  const summary = createTensor(device, { shape: [16], dtype: 'u32', label: `${label}:summary` });
  device.queue.writeBuffer(summary.buffer, 0, initialSummary());
  const result = new RowLossResult(grad, perRow, summary, plan.context, plan.termNames);
  if (rows === 0) {
    recorder.dispatch({
      program: kdFinalizeProgram,
      variant: { lossPartials: false, rowWeights: false },
      uniforms: packRowParams({ ...plan.params, rows: 0, rowBase: 0, zShift: 0, tShift: 0, gShift: 0, chunk: 1, nChunks: 1 }),
      bindings: [dummy(device, 'rowstats'), summary, perRow.soft, perRow.hard, perRow.total],
      workgroups: [1],
      label: `${label}:finalize`,
    });
    return result;
  }

  const dense = teacher.kind === 'dense' ? teacher : undefined;
  const topk = teacher.kind === 'topk' ? teacher : undefined;
  const vec4 = vocab % 4 === 0 && (!dense || (dense.stride % 4 === 0 && dense.cols % 4 === 0));
  const tuning = tuningFor(device);
  const STREAM_WG = tuning.streamWorkgroup;
  const { chunk, nChunks } = planChunks(rows, plan.params.cols, tuning);
  const scratch: GpuTensor[] = [];
  const scratchTensor = (name: string, size: number) => {
    const tensor = createTensor(device, { shape: [Math.max(1, size)], dtype: 'f32', label: `${label}:${name}` });
    checkBindingSize(device, tensor.label, tensor.byteLength);
    scratch.push(tensor);
    return tensor;
  };
  const partials = scratchTensor('partials', rows * nChunks * PARTIAL_WORDS);
  const rowstats = scratchTensor('rowstats', rows * ROW_WORDS);
  // Kept past the submit: the first readback rejects fully masked rows from it (masked-rows.ts).
  scratch.splice(scratch.indexOf(rowstats), 1);
  result.keepRowStats({
    rowstats,
    rows,
    student: plan.context.student,
    teacher: dense && plan.params.softLossScale > 0 ? plan.context.teacher : undefined,
    ignoreIndex: plan.context.ignoreIndex,
  });
  const fwdDense = Boolean(dense) && divergence === 'forward-kl';
  const divDense = Boolean(dense) && divergence !== 'forward-kl';
  const lossPartials = fwdDense ? scratchTensor('lossPartials', rows * nChunks) : undefined;
  const divPartials = divDense ? scratchTensor('divPartials', rows * nChunks * 2) : undefined;
  for (const [field, tensor] of [
    [plan.context.labels?.field, labels],
    [plan.context.indices?.field, topk?.indices],
    [plan.context.logprobs, topk?.logprobs],
    [plan.context.tailMass?.field, topk?.tailMass],
    [plan.context.rowWeights?.field, rowWeights],
  ] as const) {
    if (tensor) checkBindingSize(device, field ?? tensor.label, tensor.byteLength);
  }

  const windowed: RowTensor[] = [{ tensor: student, stride: vocab, field: plan.context.student }];
  if (dense) windowed.push({ tensor: dense.tensor, stride: dense.stride, field: plan.context.teacher ?? 'teacher' });
  windowed.push({ tensor: grad, stride: vocab, field: 'gradLogits' });
  const groups = planRowGroups(device, rows, windowed);
  const bind = (group: RowGroup, which: 'z' | 't' | 'g') => {
    const index = which === 'z' ? 0 : which === 't' ? 1 : dense ? 2 : 1;
    return group.bindings[index]!;
  };
  const paramsFor = (group: RowGroup): ReturnType<typeof packRowParams> =>
    packRowParams({
      ...plan.params,
      rows: group.end - group.start,
      rowBase: group.start,
      zShift: bind(group, 'z').shift,
      tShift: dense ? bind(group, 't').shift : 0,
      gShift: bind(group, 'g').shift,
      chunk,
      nChunks,
    });
  const studentDtype = plan.studentDtype;
  const streamGrid = (group: RowGroup) => linearGrid(device, (group.end - group.start) * nChunks);
  const rowGrid = (group: RowGroup, perGroup: number) => linearGrid(device, Math.ceil((group.end - group.start) / perGroup));

  for (const group of groups) {
    const uniforms = paramsFor(group);
    const z = bind(group, 'z').binding;
    const t = dense ? bind(group, 't').binding : undefined;
    recorder.dispatch({
      program: rowStatsProgram,
      variant: { student: studentDtype, teacher: dense ? dense.dtype : null, vec4, workgroupSize: STREAM_WG },
      uniforms,
      bindings: t ? [z, t, partials, summary] : [z, partials, summary],
      workgroups: streamGrid(group),
      label: `${label}:row-stats`,
    });
    const mergeBindings: Array<GpuTensor | GPUBufferBinding> = [partials, rowstats, summary];
    if (labels || topk) mergeBindings.push(z);
    if (labels) mergeBindings.push(labels);
    if (topk) mergeBindings.push(topk.indices, topk.logprobs);
    // Only the 'bucket' tail reads the tail mass; binding it otherwise would not match the layout.
    const tailMass = plan.tail === 'bucket' ? topk?.tailMass : undefined;
    if (tailMass) mergeBindings.push(tailMass);
    recorder.dispatch({
      program: rowMergeProgram,
      variant: {
        teacher: teacher.kind,
        labels: Boolean(labels),
        student: studentDtype,
        divergence,
        tail: plan.tail,
        tailMass: Boolean(tailMass),
        workgroupSize: topk ? tuning.rowWorkgroup : 64,
      },
      uniforms,
      bindings: mergeBindings,
      workgroups: topk ? rowGrid(group, 1) : rowGrid(group, 64),
      label: `${label}:row-merge`,
    });
    if (divDense && t && divPartials) {
      const d = divergence as 'reverse-kl' | 'jsd';
      recorder.dispatch({
        program: kdDivergenceProgram,
        variant: { student: studentDtype, teacher: dense!.dtype, vec4, divergence: d, workgroupSize: STREAM_WG },
        uniforms,
        bindings: [z, t, rowstats, divPartials],
        workgroups: streamGrid(group),
        label: `${label}:divergence`,
      });
      recorder.dispatch({
        program: kdDivergenceMergeProgram,
        variant: { divergence: d },
        uniforms,
        bindings: [divPartials, rowstats],
        workgroups: rowGrid(group, 64),
        label: `${label}:divergence-merge`,
      });
    }
  }
  // The gradient needs N, which needs every row's label: all merges come first.
  for (const group of groups) {
    const uniforms = paramsFor(group);
    const z = bind(group, 'z').binding;
    const g = bind(group, 'g').binding;
    const bindings: Array<GpuTensor | GPUBufferBinding> = [z];
    if (dense) bindings.push(bind(group, 't').binding);
    bindings.push(rowstats, summary);
    if (labels) bindings.push(labels);
    if (rowWeights) bindings.push(rowWeights);
    bindings.push(g);
    if (lossPartials) bindings.push(lossPartials);
    recorder.dispatch({
      program: kdGradientProgram,
      variant: {
        student: studentDtype,
        teacher: dense ? dense.dtype : teacher.kind === 'topk' ? 'topk' : 'none',
        grad: plan.gradDtype,
        vec4,
        divergence,
        labels: Boolean(labels),
        rowWeights: Boolean(rowWeights),
        workgroupSize: STREAM_WG,
      },
      uniforms,
      bindings,
      workgroups: streamGrid(group),
      label: `${label}:gradient`,
    });
    if (topk) {
      const scatter: Array<GpuTensor | GPUBufferBinding> = [z, rowstats, summary];
      if (labels) scatter.push(labels);
      if (rowWeights) scatter.push(rowWeights);
      scatter.push(topk.indices, topk.logprobs, g);
      recorder.dispatch({
        program: kdTopkScatterProgram,
        variant: { student: studentDtype, grad: plan.gradDtype, divergence, labels: Boolean(labels), rowWeights: Boolean(rowWeights) },
        uniforms,
        bindings: scatter,
        workgroups: linearGrid(device, Math.ceil(((group.end - group.start) * topk.k) / 64)),
        label: `${label}:topk-scatter`,
      });
    }
  }
  const finalBindings: GpuTensor[] = [rowstats];
  if (lossPartials) finalBindings.push(lossPartials);
  if (rowWeights) finalBindings.push(rowWeights);
  finalBindings.push(summary, perRow.soft, perRow.hard, perRow.total);
  recorder.dispatch({
    program: kdFinalizeProgram,
    variant: { lossPartials: Boolean(lossPartials), rowWeights: Boolean(rowWeights) },
    uniforms: paramsFor({ start: 0, end: rows, bindings: groups[0]!.bindings }),
    bindings: finalBindings,
    workgroups: [1],
    label: `${label}:finalize`,
  });
  result.adoptScratch(scratch);
  return result;
}

const dummies = new WeakMap<GPUDevice, GpuTensor>();
function dummy(device: GPUDevice, label: string): GpuTensor {
  let t = dummies.get(device);
  if (!t) dummies.set(device, (t = createTensor(device, { shape: [ROW_WORDS], dtype: 'f32', label: `kernels:${label}:empty` })));
  return t;
}

/**
 * Records `plan` into a recorder of its own, submits it, and — with `check: 'await'` (the default)
 * — waits for the input flags, releasing every buffer before rethrowing a bad input's typed error.
 */
export async function runRowLoss(plan: RowLossPlan, check: CheckMode = 'await'): Promise<RowLossResult> {
  const recorder = new CommandRecorder(plan.device, plan.termNames.includes('soft') ? 'kd-loss' : 'cross-entropy');
  const result = recordRowLoss(recorder, plan);
  await recorder.submit();
  result.releaseScratch();
  if (check === 'await') {
    try {
      await result.check();
    } catch (error) {
      result.release();
      throw error;
    }
  }
  return result;
}
