export type { AdapterSummary, BenchContext, BenchDocument, BenchResult, BenchSuite, MsStats } from './suite.js';
export { summarize, timeHost } from './timing.js';
export { formatTable, runSuites } from './runner.js';
export { renderMarkdown } from './markdown.js';
export { loadNotes, loadResults, resultFileName, saveResults } from './results-io.js';
export { suites } from './suites/index.js';
export { adapterIsCpu, measureRoofline, type Roofline } from './roofline/measure.js';
