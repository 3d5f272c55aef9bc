#!/usr/bin/env node
import { resolve } from 'node:path';
import { renderMarkdown } from './markdown.js';
import { loadComparisons, loadNotes, loadResults, writeAtomic } from './results-io.js';

const root = new URL('../..', import.meta.url).pathname;
const dir = resolve(process.argv[2] ?? `${root}benchmarks/results`);
const out = resolve(process.argv[3] ?? `${root}docs/benchmarks.md`);
await writeAtomic(out, renderMarkdown(await loadResults(dir), await loadNotes(dir), await loadComparisons(dir)));
console.log(`rendered ${out}`);
