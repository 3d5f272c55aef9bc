import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The Distilling step-by-step release vendored in this package (`data/`): SVAMP whole, CQA's test
 * split whole and the first 1,000 rows of its train split (see data/README.md). Used when a config
 * names a `dataset` without a `dir`.
 */
export function vendoredDataDir(): string {
  // dist/node.js (or src/release.ts under the tests) → the package root.
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'data');
}
