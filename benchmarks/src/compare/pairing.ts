import type { BenchDocument, BenchResult } from '../suite.js';
import { summarize } from '../timing.js';

/**
 * Params that name how a case ran on one revision rather than what it computed (the roofline's
 * source, the matmul kernel a revision chose): they differ between revisions of the same case, so
 * they stay out of the pairing key and are kept per side instead.
 */
export const IMPLEMENTATION_PARAMS: readonly string[] = ['roofline', 'kernel'];

export type Side = 'base' | 'head';

/** One case's figures on one side: the suite's own median of every round, in round order. */
export interface SideFigures {
  roundMedians: number[];
  /** Median of the rounds' medians. */
  median: number;
  min: number;
  /** The implementation params this side reported (last round's). */
  implementation?: Record<string, string | number | boolean>;
}

export type Verdict = 'slower' | 'faster' | 'within noise';

export interface ComparedCase {
  suite: string;
  name: string;
  /** The params that identify the case (implementation params left out). */
  params: Record<string, string | number | boolean>;
  base: SideFigures;
  head: SideFigures;
  /** head median / base median: above 1 means head is slower. */
  ratio: number;
  /** head / base of each round where both sides measured the case (they ran back to back). */
  roundRatios: number[];
  verdict: Verdict;
  /**
   * The same comparison of the wall clock (submit → done), for suites that report it beside
   * their GPU time (`metrics.wallMs`: kd-loss, softmax); it includes host-side work per call.
   */
  wall?: { base: number; head: number; ratio: number; roundRatios: number[] };
}

/** The key two results of the same case share across revisions: suite, name and identifying params. */
export function caseKey(result: Pick<BenchResult, 'suite' | 'name' | 'params'>): string {
  const params = identifyingParams(result.params);
  const sorted = Object.keys(params)
    .sort()
    .map((k) => [k, params[k]]);
  return JSON.stringify([result.suite, result.name, sorted]);
}

export function identifyingParams(params: BenchResult['params']): BenchResult['params'] {
  return Object.fromEntries(Object.entries(params).filter(([k]) => !IMPLEMENTATION_PARAMS.includes(k)));
}

function implementationParams(params: BenchResult['params']): BenchResult['params'] | undefined {
  const picked = Object.entries(params).filter(([k]) => IMPLEMENTATION_PARAMS.includes(k));
  return picked.length ? Object.fromEntries(picked) : undefined;
}

/** A readable label of a case: `kd-loss fused forward-KL + CE (rows=1024, vocab=32000, ...)`. */
export function caseLabel(result: Pick<BenchResult, 'suite' | 'name' | 'params'>): string {
  const params = Object.entries(identifyingParams(result.params))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `${result.suite} ${result.name}${params ? ` (${params})` : ''}`;
}

export interface VerdictRule {
  /** A ratio within [1/(1+tolerance), 1+tolerance] is noise whatever the rounds say. */
  tolerance: number;
}

/**
 * Slower (or faster) only when the median ratio is beyond the tolerance AND every round agrees
 * on the direction: on a shared machine one round's load spike must not make a verdict.
 */
export function verdictOf(ratio: number, roundRatios: readonly number[], { tolerance }: VerdictRule): Verdict {
  if (roundRatios.length === 0) return 'within noise';
  if (ratio > 1 + tolerance && roundRatios.every((r) => r > 1)) return 'slower';
  if (ratio < 1 / (1 + tolerance) && roundRatios.every((r) => r < 1)) return 'faster';
  return 'within noise';
}

export interface Pairing {
  cases: ComparedCase[];
  /** Labels of cases only one side measured (not compared). */
  unpaired: { base: string[]; head: string[] };
}

/**
 * Pairs the documents of several rounds: `rounds[i]` holds round i's base and head documents
 * (either may be missing when that run failed). A case is compared when both sides measured it in
 * at least one round; its figures are the medians over rounds of the suites' own medians.
 */
export function pairRounds(
  rounds: ReadonlyArray<{ base?: BenchDocument; head?: BenchDocument }>,
  rule: VerdictRule = { tolerance: 0.1 },
): Pairing {
  interface Collected {
    first: BenchResult;
    base: Array<number | undefined>;
    head: Array<number | undefined>;
    baseWall: Array<number | undefined>;
    headWall: Array<number | undefined>;
    implementation: Partial<Record<Side, BenchResult['params']>>;
  }
  const byKey = new Map<string, Collected>();
  for (const [i, round] of rounds.entries()) {
    for (const side of ['base', 'head'] as const) {
      for (const result of round[side]?.results ?? []) {
        if (result.skipped) continue; // not measured: nothing to compare
        const key = caseKey(result);
        let entry = byKey.get(key);
        if (!entry) {
          entry = { first: result, base: [], head: [], baseWall: [], headWall: [], implementation: {} };
          byKey.set(key, entry);
        }
        entry[side][i] = result.ms.median;
        entry[side === 'base' ? 'baseWall' : 'headWall'][i] = result.metrics?.wallMs;
        const implementation = implementationParams(result.params);
        if (implementation) entry.implementation[side] = implementation;
      }
    }
  }
  const cases: ComparedCase[] = [];
  const unpaired: Pairing['unpaired'] = { base: [], head: [] };
  for (const entry of byKey.values()) {
    const base = entry.base.filter((v): v is number => v !== undefined);
    const head = entry.head.filter((v): v is number => v !== undefined);
    if (!base.length || !head.length) {
      unpaired[base.length ? 'base' : 'head'].push(caseLabel(entry.first));
      continue;
    }
    const roundRatios = pairedRatios(entry.base, entry.head, rounds.length);
    const baseFigures = figures(base, entry.implementation.base);
    const headFigures = figures(head, entry.implementation.head);
    const ratio = headFigures.median / baseFigures.median;
    cases.push({
      suite: entry.first.suite,
      name: entry.first.name,
      params: identifyingParams(entry.first.params),
      base: baseFigures,
      head: headFigures,
      ratio,
      roundRatios,
      verdict: verdictOf(ratio, roundRatios, rule),
      ...wallComparison(entry.baseWall, entry.headWall, rounds.length),
    });
  }
  return { cases, unpaired };
}

function figures(samples: number[], implementation: BenchResult['params'] | undefined): SideFigures {
  const stats = summarize(samples);
  return { roundMedians: samples, median: stats.median, min: stats.min, ...(implementation ? { implementation } : {}) };
}

/** head / base of every round where both sides have a figure. */
function pairedRatios(base: ReadonlyArray<number | undefined>, head: ReadonlyArray<number | undefined>, rounds: number): number[] {
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const b = base[i];
    const h = head[i];
    if (b !== undefined && h !== undefined) ratios.push(h / b);
  }
  return ratios;
}

function wallComparison(
  base: ReadonlyArray<number | undefined>,
  head: ReadonlyArray<number | undefined>,
  rounds: number,
): Pick<ComparedCase, 'wall'> {
  const b = base.filter((v): v is number => v !== undefined);
  const h = head.filter((v): v is number => v !== undefined);
  if (!b.length || !h.length) return {};
  const baseMedian = summarize(b).median;
  const headMedian = summarize(h).median;
  return { wall: { base: baseMedian, head: headMedian, ratio: headMedian / baseMedian, roundRatios: pairedRatios(base, head, rounds) } };
}
