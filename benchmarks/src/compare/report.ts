import type { AdapterSummary } from '../suite.js';
import type { OptionsForRevision } from './options.js';
import type { ComparedCase, Pairing } from './pairing.js';

export interface RevisionInfo {
  /** As given on the command line (`762242a`, `main`, `HEAD`). */
  rev: string;
  commit: string;
  subject: string;
  /** Head only: the checkout had uncommitted changes (outside the results). */
  dirty?: boolean;
}

/** What `distillery-bench compare` saves (benchmarks/results/compare/<adapter>.<base>-<head>.json). */
export interface RevisionComparison {
  kind: 'revision-comparison';
  schema: 1;
  /** ISO time the first round started and the last one ended. */
  date: string;
  finished: string;
  adapter: AdapterSummary | null;
  host: {
    os: string;
    cpu: string;
    cores: number;
    node: string;
    /** 1-minute load average sampled before every suite run (start, end, lowest, highest). */
    loadAverage: { start: number; end: number; min: number; max: number };
  };
  base: RevisionInfo;
  head: RevisionInfo;
  rounds: number;
  /** How the two sides took turns. */
  order: string;
  /** Ratios within 1 ± tolerance are noise. */
  tolerance: number;
  /** Baselines both sides ran without (`--no-tfjs`: the suites' tfjs-webgpu rows). */
  baselinesOff?: string[];
  /** The options each suite ran with on each side. */
  suites: Array<{ name: string; base: OptionsForRevision; head: OptionsForRevision }>;
  cases: ComparedCase[];
  unpaired: Pairing['unpaired'];
  /** Suite runs that failed (`round 2 head train: ...`); their cases miss that round. */
  failures: string[];
}

const short = (commit: string) => commit.slice(0, 7);

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function adapterTitle(adapter: AdapterSummary | null): string {
  if (!adapter) return 'CPU only';
  return `${adapter.vendor} ${adapter.architecture} ${adapter.device}`.replace(/\s+/g, ' ').trim() || adapter.description;
}

function verdictCell(c: ComparedCase): string {
  return c.verdict === 'slower' ? '**slower**' : c.verdict;
}

/** The markdown section of one comparison: what ran, how, and one row per compared case. */
export function renderComparison(cmp: RevisionComparison, notes?: string): string {
  const load = cmp.host.loadAverage;
  const head = `\`${short(cmp.head.commit)}\`${cmp.head.dirty ? ' (with uncommitted changes)' : ''}`;
  const out = [
    `### \`${short(cmp.base.commit)}\` → \`${short(cmp.head.commit)}\` on ${adapterTitle(cmp.adapter)}: ${cmp.suites.map((x) => x.name).join(', ')}`,
    '',
    `Base \`${short(cmp.base.commit)}\` (${cmp.base.subject}); head ${head} (${cmp.head.subject}). ` +
      `${cmp.rounds} round${cmp.rounds === 1 ? '' : 's'}: ${cmp.order}; started ${cmp.date}, ended ${cmp.finished}; ` +
      `host ${cmp.host.cpu} (${cmp.host.cores} cores), node ${cmp.host.node}, backend ${cmp.adapter?.backend ?? 'none'}; ` +
      `load average ${load.start.toFixed(1)} → ${load.end.toFixed(1)} (${load.min.toFixed(1)}–${load.max.toFixed(1)} across the runs).`,
    '',
    'Options per suite (each side ran its own `distillery-bench <suite> --json --save`):',
    '',
  ];
  for (const s of cmp.suites) {
    const ignored = (side: 'base' | 'head') =>
      s[side].ignored.length ? `; ${side} does not read ${s[side].ignored.map((o) => `\`${o}\``).join(', ')}` : '';
    const same = s.base.passed.join(' ') === s.head.passed.join(' ');
    const passed = same
      ? `\`${s.head.passed.join(' ') || '(defaults)'}\``
      : `base \`${s.base.passed.join(' ') || '(defaults)'}\`, head \`${s.head.passed.join(' ') || '(defaults)'}\``;
    out.push(`- ${s.name}: ${passed}${ignored('base')}${ignored('head')}`);
  }
  if (cmp.baselinesOff?.length)
    out.push(
      '',
      `Both sides ran without their ${cmp.baselinesOff.join(', ')} baselines (\`--no-tfjs\`: every \`@tensorflow/*\` import fails in the` +
        ` suites' processes, which they report and skip); the baselines are no part of the comparison.`,
    );
  out.push(
    '',
    `Each figure is the median over rounds of the suite's own median for that case (kd-loss, softmax: GPU time of the dispatch` +
      ` chain; train: wall clock per call, as each suite reports it). head/base above 1 is slower; a case is` +
      ` **slower** (or faster) only when the ratio is beyond 1 ± ${cmp.tolerance} and every round agrees.`,
    '',
    '| suite | case | params | base ms | head ms | head/base | speed-up | rounds (head/base) | verdict | wall ms base → head (head/base) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const c of cmp.cases) {
    const params = Object.entries(c.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    out.push(
      `| ${c.suite} | ${c.name} | ${params} | ${ms(c.base.median)} | ${ms(c.head.median)} | ${c.ratio.toFixed(2)} | ${(1 / c.ratio).toFixed(2)}× | ` +
        `${c.roundRatios.map((r) => r.toFixed(2)).join(', ')} | ${verdictCell(c)} | ` +
        `${c.wall ? `${ms(c.wall.base)} → ${ms(c.wall.head)} (${c.wall.ratio.toFixed(2)})` : ''} |`,
    );
  }
  out.push('');
  const slower = cmp.cases.filter((c) => c.verdict === 'slower');
  out.push(
    slower.length
      ? `Slower beyond noise: ${slower.map((c) => `${c.suite} ${c.name} (${c.ratio.toFixed(2)}×)`).join('; ')}.`
      : 'No case is slower beyond noise.',
  );
  if (cmp.unpaired.base.length || cmp.unpaired.head.length)
    out.push(
      '',
      `Not compared (measured by one side only): ${[
        ...cmp.unpaired.base.map((l) => `base: ${l}`),
        ...cmp.unpaired.head.map((l) => `head: ${l}`),
      ].join('; ')}.`,
    );
  if (cmp.failures.length) out.push('', `Failed runs: ${cmp.failures.join('; ')}.`);
  const note = notes?.trim();
  if (note) out.push('', note);
  return `${out.join('\n')}\n`;
}

/** The file name a comparison is saved under: adapter slug, then both commits. */
export function comparisonFileName(adapterSlug: string, cmp: Pick<RevisionComparison, 'base' | 'head'>): string {
  return `${adapterSlug}.${short(cmp.base.commit)}-${short(cmp.head.commit)}.json`;
}
