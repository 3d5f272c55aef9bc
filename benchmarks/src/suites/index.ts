import type { BenchSuite } from '../suite.js';
import { bandwidthSuite } from './bandwidth.js';

/** Every suite `distillery-bench` knows, by name. Add a suite here once it exists. */
export const suites: readonly BenchSuite[] = [bandwidthSuite];
