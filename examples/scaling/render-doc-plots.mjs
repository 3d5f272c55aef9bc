#!/usr/bin/env node
// Renders the plots in docs/scaling-laws.md from the shipped SYNTHETIC runs and the published laws.
// Needs the built package: `npx turbo run build --filter=@distillery/scaling-laws`, then
//   node examples/scaling/render-doc-plots.mjs
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BUSBRIDGE_SUPERVISED,
  fitDistillation,
  fitSupervised,
  readDistillationRuns,
  readSupervisedRuns,
  renderDistillationFrontier,
  renderIsoFlopCurves,
  renderObservedVsFitted,
  renderTeacherLossSweep,
} from '../../packages/scaling-laws/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '../../docs/img');
mkdirSync(out, { recursive: true });
const write = (name, svg) => {
  const path = join(out, name);
  writeFileSync(`${path}.tmp-${process.pid}`, svg);
  renameSync(`${path}.tmp-${process.pid}`, path);
  console.log(`wrote ${path}`);
};

const supervisedRuns = readSupervisedRuns(readFileSync(join(here, 'synthetic-runs.csv'), 'utf8'), {
  columns: { params: 'n_params', tokens: 'train_tokens', loss: 'val_loss' },
});
const supervised = fitSupervised(supervisedRuns, { seed: 0 });
write(
  'scaling-observed-vs-fitted.svg',
  renderObservedVsFitted(supervised, { title: 'Observed vs fitted loss: supervised law, 54 synthetic runs' }),
);

const distillationRuns = readDistillationRuns(readFileSync(join(here, 'synthetic-distillation-runs.csv'), 'utf8'));
const distillation = fitDistillation(distillationRuns, BUSBRIDGE_SUPERVISED, { seed: 0 });
write(
  'scaling-distillation-fit.svg',
  renderObservedVsFitted(distillation, { title: 'Observed vs fitted loss: distillation law, 140 synthetic runs' }),
);

write('scaling-isoflop.svg', renderIsoFlopCurves({ budgets: [1e19, 1e20, 1e21, 1e22, 1e23], paramsRange: [1e7, 1e12] }));
write('scaling-frontier.svg', renderDistillationFrontier({ studentParams: 1e9, budgets: [1e19, 1e25] }));
write(
  'scaling-teacher-sweep.svg',
  renderTeacherLossSweep({ studentParams: 1e9, studentTokens: [2e10, 2e11, 2e12], teacherLossRange: [1.6, 3.4] }),
);
