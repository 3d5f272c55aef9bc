import { DistilleryError } from '@distillery/core';

/** Parses JSON Lines text (a dataset file). Bad lines are E_BAD_INPUT naming the line. */
export function parseJsonlText<T = unknown>(text: string, source = 'input'): T[] {
  const out: T[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch (error) {
      throw new DistilleryError('E_BAD_INPUT', `${source}: line ${i + 1} is not valid JSON (${(error as Error).message})`, {
        field: source,
        line: i + 1,
      });
    }
  }
  return out;
}
