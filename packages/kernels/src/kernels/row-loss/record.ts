import { checkBindingSize, CommandRecorder, createTensor, linearGrid, type DispatchSpec, type GpuTensor } from '@distillery/webgpu';
import { PARTIAL_WORDS, ROW_WORDS } from '../../shared/layout.js';
import { packRowParams } from '../../shared/params.js';
import { initialSummary } from '../../shared/wgsl-lib.js';
import { tuningFor } from '../../shared/tuning.js';
import { bindingOf, planChunks, planRowGroups, type RowGroup, type RowTensor } from '../../shared/windows.js';
import {
  kdDivergenceMergeProgram,
  kdDivergenceProgram,
  kdFinalizeProgram,
  kdGradientProgram,
  kdTopkPlaceProgram,
  kdTopkScatterProgram,
  rowMergeProgram,
  rowStatsProgram,
} from '../../programs.js';
import type { CheckMode, RowLossPlan } from './plan.js';
import { RowLossResult } from './result.js';

/** Records the whole loss (4–7 dispatches per row group) into `recorder`; nothing is submitted. */
export function recordRowLoss(recorder: CommandRecorder, plan: RowLossPlan): RowLossResult {
  const { device, rows, vocab, student, teacher, labels, rowWeights, divergence, inPlace } = plan;
  const label = plan.termNames.includes('soft') ? `kd-loss(${divergence})` : 'cross-entropy';
  // Row windows of larger tensors (rowWindow) are bound as their byte range, whatever the recorder.
  const record = <V>(spec: DispatchSpec<V>) => recorder.dispatch({ ...spec, bindings: spec.bindings.map(bindingOf) });
  const grad = inPlace ? student : createTensor(device, { shape: [rows, vocab], dtype: plan.gradDtype, label: `${label}:gradLogits` });
  const borrowed = new Set<GpuTensor>(inPlace ? [student] : []);
  const perRowTensor = (name: 'soft' | 'hard' | 'total') => {
    const given = plan.perRowInto[name];
    if (given) borrowed.add(given);
    return given ?? createTensor(device, { shape: [rows], dtype: 'f32', label: `${label}:${name}` });
  };
  const perRow = { soft: perRowTensor('soft'), hard: perRowTensor('hard'), total: perRowTensor('total') };
  const summary = createTensor(device, { shape: [16], dtype: 'u32', label: `${label}:summary` });
  device.queue.writeBuffer(summary.buffer, 0, initialSummary());
  const result = new RowLossResult(grad, perRow, summary, plan.context, plan.termNames, borrowed);
  if (rows === 0) {
    record({
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
  // Dense reverse KL sums D in row-stats (an online sum like Z) and the row merge finishes it;
  // only JSD, whose log-mixture needs both normalised distributions, takes the divergence passes.
  const revDense = Boolean(dense) && divergence === 'reverse-kl';
  const divDense = Boolean(dense) && divergence === 'jsd';
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
  // In place, the gradient is the student's binding.
  if (!inPlace) windowed.push({ tensor: grad, stride: vocab, field: 'gradLogits' });
  const groups = planRowGroups(device, rows, windowed);
  const bind = (group: RowGroup, which: 'z' | 't' | 'g') => {
    const index = which === 'z' || (which === 'g' && inPlace) ? 0 : which === 't' ? 1 : dense ? 2 : 1;
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
    record({
      program: rowStatsProgram,
      variant: {
        student: studentDtype,
        teacher: dense ? dense.dtype : null,
        vec4,
        workgroupSize: STREAM_WG,
        t1: plan.t1,
        reverseKl: revDense ? true : undefined,
      },
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
    record({
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
      record({
        program: kdDivergenceProgram,
        variant: { student: studentDtype, teacher: dense!.dtype, vec4, divergence: 'jsd', workgroupSize: STREAM_WG },
        uniforms,
        bindings: [z, t, rowstats, divPartials],
        workgroups: streamGrid(group),
        label: `${label}:divergence`,
      });
      record({
        program: kdDivergenceMergeProgram,
        variant: { divergence: 'jsd' },
        uniforms,
        bindings: [divPartials, rowstats],
        workgroups: rowGrid(group, 64),
        label: `${label}:divergence-merge`,
      });
    }
  }
  // In place, the top-k support gradient is computed before the gradient pass overwrites the
  // logits it reads, kept aside per (row, entry), and written after that pass.
  const supportGrad = topk && inPlace ? scratchTensor('supportGrad', rows * topk.k) : undefined;
  const scatterBindings = (group: RowGroup, out: GpuTensor | GPUBufferBinding) => {
    const scatter: Array<GpuTensor | GPUBufferBinding> = [bind(group, 'z').binding, rowstats, summary];
    if (labels) scatter.push(labels);
    if (rowWeights) scatter.push(rowWeights);
    scatter.push(topk!.indices, topk!.logprobs, out);
    return scatter;
  };
  const scatterVariant = {
    student: studentDtype,
    grad: plan.gradDtype,
    divergence,
    labels: Boolean(labels),
    rowWeights: Boolean(rowWeights),
    inPlace: inPlace ? (true as const) : undefined,
  };
  const supportGrid = (group: RowGroup) => linearGrid(device, Math.ceil(((group.end - group.start) * topk!.k) / 64));
  // The gradient needs N, which needs every row's label: all merges come first. Every pass that
  // reads the logits for a row's stats (row-stats, row-merge, divergence) is recorded above, so an
  // in-place gradient overwrites a row only after its stats are final.
  for (const group of groups) {
    const uniforms = paramsFor(group);
    const z = bind(group, 'z').binding;
    const g = bind(group, 'g').binding;
    const bindings: Array<GpuTensor | GPUBufferBinding> = [z];
    if (dense) bindings.push(bind(group, 't').binding);
    bindings.push(rowstats, summary);
    if (labels) bindings.push(labels);
    if (rowWeights) bindings.push(rowWeights);
    if (!inPlace) bindings.push(g);
    if (lossPartials) bindings.push(lossPartials);
    if (supportGrad) {
      record({
        program: kdTopkScatterProgram,
        variant: scatterVariant,
        uniforms,
        bindings: scatterBindings(group, supportGrad),
        workgroups: supportGrid(group),
        label: `${label}:topk-support`,
      });
    }
    record({
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
        t1: plan.t1,
        inPlace: inPlace ? true : undefined,
      },
      uniforms,
      bindings,
      workgroups: streamGrid(group),
      label: `${label}:gradient`,
    });
    if (topk && supportGrad) {
      record({
        program: kdTopkPlaceProgram,
        variant: { grad: plan.gradDtype },
        uniforms,
        bindings: [g, topk.indices, supportGrad],
        workgroups: supportGrid(group),
        label: `${label}:topk-place`,
      });
    } else if (topk) {
      record({
        program: kdTopkScatterProgram,
        variant: scatterVariant,
        uniforms,
        bindings: scatterBindings(group, g),
        workgroups: supportGrid(group),
        label: `${label}:topk-scatter`,
      });
    }
  }
  const finalBindings: GpuTensor[] = [rowstats];
  if (lossPartials) finalBindings.push(lossPartials);
  if (rowWeights) finalBindings.push(rowWeights);
  finalBindings.push(summary, perRow.soft, perRow.hard, perRow.total);
  record({
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
