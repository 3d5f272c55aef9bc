// One test configuration for every workspace: each package writes a JSON report that
// scripts/test-summary.mjs folds into the single "N passed, N failed" line CI reads.
export const sharedTestConfig = {
  include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
  reporters: ['default', ['json', { outputFile: 'test-results.json' }]] as never,
  testTimeout: 120_000,
  hookTimeout: 120_000,
  pool: 'forks' as const,
};
