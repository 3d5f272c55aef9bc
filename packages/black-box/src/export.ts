import { readdir } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { badValue, describeValue, type ChatMessage, type CompletionRequest } from '@distillery/core';
import { writeFileAtomic } from '@distillery/core/node';
import type { CollectedRecord, CollectItem } from './collect.js';
import { requestKey } from './hash.js';
import { readJsonl } from './jsonl.js';

/** The files `exportTrainingData` writes; nothing else goes into its folder. */
export const EXPORT_FILES = { promptCompletion: 'prompt-completion.jsonl', messages: 'messages.jsonl', card: 'README.md' } as const;

export interface ExportOptions {
  /** The items collected, in input order (the order of the exported rows). */
  items: readonly CollectItem[];
  /** The collect output JSONL (records in arrival order). */
  records: string;
  /** The data folder: receives only the two JSONL files and the dataset card. */
  dir: string;
  /** The teacher (model) name for the card. */
  teacher: string;
  /** Replace files a previous export wrote (never anything else). Default false. */
  overwrite?: boolean;
  /** The card's date (default now). */
  date?: Date;
  /** The cache namespace collect used (default: each record's teacher name), to spot stale records. */
  namespace?: string;
}

export interface ExportSummary {
  dir: string;
  rows: number;
  /** Items with no record yet (failed or not collected): left out, listed in the card. */
  missing: number;
  /** Records collected from a different request than the item's now (left out). */
  stale: number;
  /** Rows whose completion stopped at the token limit (`finishReason: "length"`): kept, counted. */
  truncated: number;
  files: string[];
}

/** `{ prompt, completion }` (TRL's standard or conversational prompt-completion) and `{ messages }` (chat SFT). */
function rowsOf(
  id: string,
  request: CompletionRequest,
  text: string,
): { promptCompletion: Record<string, unknown>; messages: Record<string, unknown> } {
  const answer: ChatMessage = { role: 'assistant', content: text };
  if (request.messages) {
    return {
      promptCompletion: { id, prompt: request.messages, completion: [answer] },
      messages: { id, messages: [...request.messages, answer] },
    };
  }
  return {
    promptCompletion: { id, prompt: request.prompt ?? '', completion: text },
    messages: { id, messages: [{ role: 'user', content: request.prompt ?? '' }, answer] },
  };
}

function samplingOf(items: readonly CollectItem[]): Record<string, unknown> {
  const out: Record<string, unknown[]> = {};
  for (const { request } of items) {
    const { prompt: _p, messages: _m, ...sampling } = request;
    for (const [key, value] of Object.entries(sampling)) {
      const seen = (out[key] ??= []);
      if (!seen.some((v) => JSON.stringify(v) === JSON.stringify(value))) seen.push(value);
    }
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.length === 1 ? v[0] : v]));
}

function card(options: ExportOptions, summary: Omit<ExportSummary, 'files' | 'dir'>, missingIds: string[]): string {
  const sampling = samplingOf(options.items);
  const date = (options.date ?? new Date()).toISOString();
  const lines = [
    '---',
    'configs:',
    '- config_name: prompt-completion',
    `  data_files: ${EXPORT_FILES.promptCompletion}`,
    '  default: true',
    '- config_name: messages',
    `  data_files: ${EXPORT_FILES.messages}`,
    'tags:',
    '- distillation',
    '- synthetic',
    '---',
    '',
    '# Teacher outputs for distillation',
    '',
    `Completions of \`${options.teacher}\`, collected with Distillery's \`collect\` on ${date.slice(0, 10)} (exported ${date}).`,
    '',
    `- **model**: \`${options.teacher}\``,
    `- **sampling**: ${
      Object.keys(sampling).length
        ? Object.entries(sampling)
            .map(([k, v]) => `${k} = ${describeValue(v)}`)
            .join(', ')
        : "the teacher's defaults"
    }`,
    `- **rows**: ${summary.rows} of ${options.items.length} inputs, in input order`,
    `- **missing**: ${summary.missing} (failed or not yet collected; rerun collect, then export again)${missingIds.length ? `: ${missingIds.slice(0, 20).join(', ')}${missingIds.length > 20 ? ', ...' : ''}` : ''}`,
    `- **stale**: ${summary.stale} (collected from a different request than the input's now; left out)`,
    `- **truncated**: ${summary.truncated} (stopped at the token limit; kept)`,
    '',
    '## Files',
    '',
    `- \`${EXPORT_FILES.promptCompletion}\`: \`{"id", "prompt", "completion"}\` — TRL's prompt-completion format (conversational when the inputs were chat messages).`,
    `- \`${EXPORT_FILES.messages}\`: \`{"id", "messages"}\` — the prompt as a user turn (or the input's messages) and the completion as the assistant turn.`,
    '',
    '```python',
    'from datasets import load_dataset',
    `ds = load_dataset("json", data_files="${EXPORT_FILES.promptCompletion}", split="train")`,
    '```',
    '',
    "Check the teacher's terms of use before training on its outputs.",
    '',
  ];
  return lines.join('\n');
}

/**
 * Writes what `collect` gathered as training data: one row per input that has a record, in
 * input order, with its prompt (or messages) and completion, as `{prompt, completion}` and
 * `{messages}` JSONL, and a dataset card (model, sampling, date, counts) beside them. The folder
 * holds nothing else: the collect output, its errors file and the response cache stay where
 * they are, and the folder may not contain them.
 */
export async function exportTrainingData(options: ExportOptions): Promise<ExportSummary> {
  const dir = resolve(options.dir);
  const ours = new Set<string>(Object.values(EXPORT_FILES));
  const present = await readdir(dir).catch(() => [] as string[]);
  const foreign = present.filter((f) => !ours.has(f));
  if (foreign.length)
    throw badValue(
      'export.dir',
      dir,
      `a folder holding only an export (it has ${foreign.slice(0, 5).join(', ')}); the collect output, errors and cache must stay outside it`,
    );
  const clash = present.filter((f) => ours.has(f));
  if (clash.length && !options.overwrite)
    throw badValue('export.dir', dir, `an empty folder, or overwrite: true to replace the previous export (${clash.join(', ')})`);
  const inside = relative(dir, resolve(options.records));
  if (!inside.startsWith('..') && !isAbsolute(inside))
    throw badValue('export.dir', dir, `a folder that does not contain the collect output ${options.records}`);

  const { records } = await readJsonl<CollectedRecord>(options.records, { repair: false });
  const byId = new Map(records.map((r) => [r.id, r]));
  const promptCompletion: string[] = [];
  const messages: string[] = [];
  const missingIds: string[] = [];
  let stale = 0;
  let truncated = 0;
  for (const item of options.items) {
    const record = byId.get(item.id);
    if (!record) {
      missingIds.push(item.id);
      continue;
    }
    if (record.key !== requestKey(options.namespace ?? record.teacher, item.request)) {
      stale++;
      continue;
    }
    if (record.completion.finishReason === 'length') truncated++;
    const rows = rowsOf(item.id, item.request, record.completion.text);
    promptCompletion.push(JSON.stringify(rows.promptCompletion));
    messages.push(JSON.stringify(rows.messages));
  }
  const summary = { rows: promptCompletion.length, missing: missingIds.length, stale, truncated };
  const jsonl = (lines: string[]) => (lines.length ? `${lines.join('\n')}\n` : '');
  await writeFileAtomic(join(dir, EXPORT_FILES.promptCompletion), jsonl(promptCompletion));
  await writeFileAtomic(join(dir, EXPORT_FILES.messages), jsonl(messages));
  await writeFileAtomic(join(dir, EXPORT_FILES.card), card(options, summary, missingIds));
  return { dir, ...summary, files: Object.values(EXPORT_FILES) };
}
