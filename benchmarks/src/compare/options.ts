import { DistilleryError } from '@distillery/core';

/** Flags every revision's `distillery-bench` parses itself (not suite options). */
export const RUNNER_FLAGS: readonly string[] = ['json', 'quick', 'save', 'results-dir', 'browser', 'help', 'h'];

/**
 * The suite options a revision's benchmark sources read: every `options.name` and
 * `options['name']` in them (a superset: other objects called `options` count too, which only
 * means an option is passed that the suites then ignore).
 */
export function optionsReadBy(sources: readonly string[]): Set<string> {
  const names = new Set<string>();
  const pattern = /\boptions\??\.([A-Za-z_]\w*)|\boptions(?:\?\.)?\[\s*'([^']+)'\s*\]/g;
  for (const text of sources) for (const m of text.matchAll(pattern)) names.add((m[1] ?? m[2])!);
  return names;
}

export interface OptionArg {
  /** The name without dashes (`rows`, `no-torch`). */
  name: string;
  /** The tokens as given: `['--rows', '64,1024']`, `['--rows=64']`, `['--no-torch']`. */
  tokens: string[];
}

/** Splits command-line tokens into options the way `distillery-bench` does (a value follows unless it starts with `--`). */
export function parseOptionTokens(tokens: readonly string[]): OptionArg[] {
  const out: OptionArg[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const match = /^--([^=]+)(=.*)?$/.exec(token);
    if (!match)
      throw new DistilleryError('E_BAD_VALUE', `suite options must be --name value or --name=value, got ${JSON.stringify(token)}`, {
        field: 'suite options',
        value: token,
        expected: '--name value or --name=value',
      });
    const name = match[1]!;
    const next = tokens[i + 1];
    const takesValue = match[2] === undefined && !RUNNER_FLAGS.includes(name) && next !== undefined && !next.startsWith('--');
    out.push({ name, tokens: takesValue ? [token, tokens[++i]!] : [token] });
  }
  return out;
}

export interface OptionsForRevision {
  /** The tokens this revision runs with. */
  passed: string[];
  /** Options left out because this revision's suites do not read them. */
  ignored: string[];
}

/** Keeps the runner flags and the suite options a revision reads; names the others. */
export function optionsFor(args: readonly OptionArg[], read: ReadonlySet<string>): OptionsForRevision {
  const passed: string[] = [];
  const ignored: string[] = [];
  for (const arg of args) {
    if (RUNNER_FLAGS.includes(arg.name) || read.has(arg.name)) passed.push(...arg.tokens);
    else ignored.push(`--${arg.name}`);
  }
  return { passed, ignored };
}

/** `'train=--quick --sizes 1024'` → `['train', ['--quick', '--sizes', '1024']]`. */
export function parseSuiteArgs(spec: string): [suite: string, tokens: string[]] {
  const eq = spec.indexOf('=');
  if (eq <= 0)
    throw new DistilleryError('E_BAD_VALUE', `--suite-args must be SUITE=OPTIONS (e.g. 'train=--quick'), got ${JSON.stringify(spec)}`, {
      field: '--suite-args',
      value: spec,
      expected: 'SUITE=OPTIONS',
    });
  return [
    spec.slice(0, eq).trim(),
    spec
      .slice(eq + 1)
      .split(/\s+/)
      .filter(Boolean),
  ];
}
