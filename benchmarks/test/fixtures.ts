import type { BenchDocument, BenchResult } from '../src/index.js';

/** A schema-1 document on a made-up GPU adapter, with `over` on top. */
export const benchDocument = (over: Partial<BenchDocument>): BenchDocument => ({
  schema: 1,
  adapter: { vendor: 'acme', architecture: 'rdna9', device: 'x', description: 'Acme X', backend: 'dawn-node' },
  host: { os: 'linux', cpu: 'cpu', cores: 2, node: 'v20' },
  date: '2026-01-01T00:00:00.000Z',
  results: [],
  ...over,
});

/** A measured row of `suite` whose three runs all took `median` ms. */
export const measuredRow = (
  suite: string,
  median: number,
  { name = 'case', params = { rows: 64 } }: { name?: string; params?: BenchResult['params'] } = {},
): BenchResult => ({
  suite,
  name,
  params,
  ms: { median, min: median, max: median, runs: 3 },
});
