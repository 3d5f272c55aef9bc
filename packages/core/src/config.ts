import * as z from 'zod/mini';
import { DistilleryError, describeValue } from './errors.js';
import { printableConfigValue } from './secrets.js';

export interface ConfigIssue {
  /** Dotted path from the root of the config, e.g. `student.widths[1]`. */
  path: string;
  expected: string;
  got: string;
}

function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function expectedOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected;
    case 'too_small':
      return `${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}`;
    case 'too_big':
      return `${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => describeValue(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `no key ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_union': {
      // zod's own message is "Invalid input": list what each alternative wanted instead.
      const options = issue.errors.map((branch) => (branch[0] ? expectedOf(branch[0]) : 'something else'));
      return [...new Set(options)].join(' or ');
    }
    default:
      return issue.message;
  }
}

/**
 * Validates `value` against `schema`; on failure throws E_BAD_CONFIG whose message lists every
 * problem as `path: expected X, got Y` and whose `details.issues` holds them structured.
 */
// zod/mini (not classic zod): a page that parses one config pays ~20 KB, not ~450 KB. Any zod 4
// schema works here, classic ones from plugins included: both share zod's core.
export function parseConfig<S extends z.core.$ZodType>(schema: S, value: unknown, pathPrefix = ''): z.output<S> {
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const issues: ConfigIssue[] = result.error.issues.map((issue) => {
    // Never echo a secret: key/header fields show only their type and length, URLs lose user info and query.
    const got =
      issue.code === 'unrecognized_keys'
        ? describeValue(issue.keys)
        : describeValue(printableConfigValue(issue.path, valueAt(value, issue.path)).value);
    return { path: formatPath(pathPrefix, issue.path), expected: expectedOf(issue), got };
  });
  const lines = issues.map((i) => `${i.path}: expected ${i.expected}, got ${i.got}`);
  throw new DistilleryError('E_BAD_CONFIG', `invalid config\n  ${lines.join('\n  ')}`, {
    field: issues[0]?.path,
    issues,
  });
}
