import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { adapterSlug } from '@distillery/webgpu';
import type { RevisionComparison } from './compare/report.js';
import type { BenchDocument } from './suite.js';

export function resultFileName(doc: BenchDocument): string {
  if (!doc.adapter) return 'cpu.json';
  return `${adapterSlug(doc.adapter)}.json`;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, text);
  await rename(temp, path);
}

/**
 * Merges a run into `<dir>/<adapter-slug>.json`: results of the suites in this run replace the
 * saved ones of the same suites; other suites' saved results stay. A suite that failed in this run
 * keeps its saved results and gets this run's failure record; a suite that ran loses its old one.
 */
export async function saveResults(dir: string, doc: BenchDocument): Promise<string> {
  const path = join(dir, resultFileName(doc));
  let merged = doc;
  try {
    const previous = JSON.parse(await readFile(path, 'utf8')) as BenchDocument;
    const ran = new Set(doc.results.map((r) => r.suite));
    const attempted = new Set([...ran, ...(doc.failures ?? []).map((f) => f.suite)]);
    const failures = [...(previous.failures ?? []).filter((f) => !attempted.has(f.suite)), ...(doc.failures ?? [])];
    const { failures: _replaced, ...rest } = doc;
    merged = {
      ...rest,
      results: [...previous.results.filter((r) => !ran.has(r.suite)), ...doc.results],
      ...(failures.length ? { failures } : {}),
    };
  } catch {
    // No previous file (or unreadable): this run is the whole record.
  }
  await writeAtomic(path, `${JSON.stringify(merged, null, 2)}\n`);
  return path;
}

export async function loadResults(dir: string): Promise<BenchDocument[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as BenchDocument));
}

/** The hand-written notes beside each result file (`<adapter>.notes.md`), in `loadResults` order. */
export async function loadNotes(dir: string): Promise<Array<string | undefined>> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map((f) => readFile(join(dir, f.replace(/\.json$/, '.notes.md')), 'utf8').catch(() => undefined)));
}

/**
 * The revision comparisons saved by `distillery-bench compare` (`<dir>/compare/*.json`), sorted by
 * file name, each with its hand-written `<name>.notes.md` when there is one.
 */
export async function loadComparisons(dir: string): Promise<Array<{ comparison: RevisionComparison; notes?: string }>> {
  const sub = join(dir, 'compare');
  const files = (await readdir(sub).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (f) => ({
      comparison: JSON.parse(await readFile(join(sub, f), 'utf8')) as RevisionComparison,
      notes: await readFile(join(sub, f.replace(/\.json$/, '.notes.md')), 'utf8').catch(() => undefined),
    })),
  );
}

/**
 * Where a comparison run saves: `<adapter>.<base>-<head>.json`, unless an earlier run's comparison
 * of the same two commits is already there (another set of suites, say) — then the name also
 * carries this run's start time, so the earlier file is never overwritten.
 */
export async function comparisonPath(dir: string, plainName: string, cmp: Pick<RevisionComparison, 'date'>): Promise<string> {
  const plain = join(dir, plainName);
  const earlier = await readFile(plain, 'utf8').then(
    (text) => JSON.parse(text) as Partial<RevisionComparison>,
    () => undefined,
  );
  if (!earlier || earlier.date === cmp.date) return plain;
  return join(dir, plainName.replace(/\.json$/, `.${cmp.date.replace(/[:.]/g, '-')}.json`));
}

export { writeAtomic };
