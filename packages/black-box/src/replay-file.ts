import type { CompletionRequest } from '@distillery/core';
import type { CollectedRecord } from './collect.js';
import { readJsonl } from './jsonl.js';
import { ReplayTeacher, type ReplayEntry, type ReplayTeacherOptions } from './replay.js';

/**
 * Replays a previous `collect` output: `requests` maps each record's id to the request it
 * answered (the collection records keep ids and keys, not the prompts).
 */
export async function replayTeacherFromCollected(
  path: string,
  requests: ReadonlyMap<string, Pick<CompletionRequest, 'prompt' | 'messages'>>,
  options: ReplayTeacherOptions = {},
): Promise<ReplayTeacher> {
  const { records } = await readJsonl<CollectedRecord>(path);
  const entries: ReplayEntry[] = [];
  for (const record of records) {
    const request = requests.get(record.id);
    if (request) entries.push({ request, completion: record.completion });
  }
  return new ReplayTeacher(entries, options);
}
