import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { adapterSlug } from '@distillery/webgpu';
import type { RevisionComparison } from './compare/report.js';
import { caseKey } from './compare/pairing.js';
import type { BenchDocument, BenchResult } from './suite.js';

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
 * Merges a run into `<dir>/<adapter-slug>.json`. A suite that completed in this run replaces all its
 * saved rows (a case it no longer sweeps goes); other suites' saved rows stay. A suite that failed
 * keeps its saved rows except those of the cases it finished this time (the same suite, name and
 * identifying params, `caseKey`), which its new rows replace in place; its other new rows are added.
 * The failure record of a suite that ran replaces its old one; a suite that completed loses its old one.
 */
export async function saveResults(dir: string, doc: BenchDocument): Promise<string> {
  const path = join(dir, resultFileName(doc));
  let merged = doc;
  try {
    const previous = JSON.parse(await readFile(path, 'utf8')) as BenchDocument;
    const failed = new Set((doc.failures ?? []).map((f) => f.suite));
    const completed = new Set(doc.results.map((r) => r.suite).filter((suite) => !failed.has(suite)));
    const attempted = new Set([...completed, ...failed]);
    const failures = [...(previous.failures ?? []).filter((f) => !attempted.has(f.suite)), ...(doc.failures ?? [])];
    const { failures: _replaced, ...rest } = doc;
    merged = {
      ...rest,
      results: mergeRows(
        previous.results.filter((r) => !completed.has(r.suite)),
        doc.results,
        (r) => failed.has(r.suite),
      ),
      ...(failures.length ? { failures } : {}),
    };
  } catch {
    // No previous file (or unreadable): this run is the whole record.
  }
  await writeAtomic(path, `${JSON.stringify(merged, null, 2)}\n`);
  return path;
}

/**
 * `kept` with each row of a partial suite (`partial(row)`) that measured the same case again
 * replaced by the new row, in place; the remaining new rows follow in their run's order.
 */
function mergeRows(kept: BenchResult[], fresh: BenchResult[], partial: (row: BenchResult) => boolean): BenchResult[] {
  const byCase = new Map(fresh.filter(partial).map((r) => [caseKey(r), r]));
  const placed = new Set<BenchResult>();
  const merged: BenchResult[] = [];
  for (const old of kept) {
    const replacement = partial(old) ? byCase.get(caseKey(old)) : undefined;
    if (!replacement) merged.push(old);
    else if (!placed.has(replacement)) {
      placed.add(replacement);
      merged.push(replacement);
    }
  }
  return [...merged, ...fresh.filter((r) => !placed.has(r))];
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
