import type { BenchSuite } from '../suite.js';
import { bandwidthSuite } from './bandwidth.js';
import { scalingFitSuite } from './scaling-fit.js';
import { collectSuite } from './collect.js';
import { collectPoolSuite } from './collect-pool.js';
import { trainSuite } from './train.js';
import { kdLossSuite } from './kd-loss.js';
import { softmaxSuite } from './softmax.js';
import { stepByStepSuite } from './step-by-step.js';
import { llamaSuite } from './llama.js';

/** Every suite `distillery-bench` knows, by name. Add a suite here once it exists. */
export const suites: readonly BenchSuite[] = [
  bandwidthSuite,
  scalingFitSuite,
  collectSuite,
  collectPoolSuite,
  kdLossSuite,
  softmaxSuite,
  trainSuite,
  stepByStepSuite,
  llamaSuite,
];
