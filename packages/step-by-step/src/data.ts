import { readFile } from 'node:fs/promises';
import { fileReadError } from '@distillery/core/node';
import { basename, join } from 'node:path';
import { DistilleryError } from '@distillery/core';
import { parseJsonlText } from '@distillery/black-box';
import type { StepByStepExample } from './presets.js';

export type StepByStepDataset = 'svamp' | 'cqa';
export type StepByStepSplit = 'train' | 'test';

/** Outputs per `llm/{split}_CoT_{k}.json` file in the official release (the alignment rule). */
export const RECORDED_BATCH_SIZE: Readonly<Record<StepByStepDataset, number>> = { svamp: 500, cqa: 1000 };

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new DistilleryError('E_NOT_FOUND', `no file ${path}`, { field: 'path', value: path });
    throw fileReadError(error, path, 'path') ?? error;
  }
}

interface CqaRow {
  id?: string;
  question: string;
  choices: string[];
  answer: string;
}

/** The CQA student input, as the official loader builds it: question, then the lettered choices. */
export function cqaInput(question: string, choices: readonly string[]): string {
  return `${question}\nAnswer Choices:\n${choices.map((c, i) => `(${'abcdefghij'[i]}) ${c}`).join('\n')}`;
}

/**
 * Loads one split of the Distilling step-by-step release (`<dir>/<dataset>/<dataset>_<split>.json`).
 * SVAMP rows get ids `svamp-<split>-<row>`; CQA rows keep their cos_e id.
 */
export async function loadStepByStepSplit(dir: string, dataset: StepByStepDataset, split: StepByStepSplit): Promise<StepByStepExample[]> {
  const path = join(dir, dataset, `${dataset}_${split}.json`);
  const rows = parseJsonlText<Record<string, unknown>>(await readText(path), path);
  if (dataset === 'svamp') {
    return rows.map((row, i) => {
      if (typeof row.input !== 'string' || typeof row.label !== 'string')
        throw new DistilleryError('E_BAD_INPUT', `${path}: row ${i + 1} lacks string input/label`, { field: path, line: i + 1 });
      return { id: `svamp-${split}-${i}`, input: row.input, label: row.label };
    });
  }
  return rows.map((raw, i) => {
    const row = raw as unknown as CqaRow;
    if (typeof row.question !== 'string' || !Array.isArray(row.choices) || typeof row.answer !== 'string') {
      throw new DistilleryError('E_BAD_INPUT', `${path}: row ${i + 1} lacks question/choices/answer`, { field: path, line: i + 1 });
    }
    return {
      id: typeof row.id === 'string' && row.id ? row.id : `cqa-${split}-${i}`,
      input: cqaInput(row.question, row.choices),
      label: row.answer,
      choices: row.choices,
    };
  });
}

/**
 * PaLM's recorded outputs for a split, in row order: `llm/<split>_CoT_<k>.json` for k = 0, 1, … until
 * a file is missing; element i of file k is the output for row k·batch + i.
 */
export async function loadRecordedOutputs(dir: string, dataset: StepByStepDataset, split: StepByStepSplit): Promise<string[]> {
  const batch = RECORDED_BATCH_SIZE[dataset];
  const outputs: string[] = [];
  for (let k = 0; ; k++) {
    const path = join(dir, dataset, 'llm', `${split}_CoT_${k}.json`);
    let text: string;
    try {
      text = await readText(path);
    } catch (error) {
      if (k > 0 && error instanceof DistilleryError && error.code === 'E_NOT_FOUND') break;
      throw error;
    }
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (error) {
      throw new DistilleryError('E_CORRUPT_FILE', `${path} is not valid JSON (${(error as Error).message})`, {
        field: 'path',
        value: path,
      });
    }
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string'))
      throw new DistilleryError('E_CORRUPT_FILE', `${path} is not a JSON array of strings`, { field: 'path', value: path });
    if (outputs.length !== k * batch) {
      throw new DistilleryError(
        'E_CORRUPT_FILE',
        `${path}: file ${k - 1} held ${outputs.length - (k - 1) * batch} outputs, but only the last file may hold fewer than ${batch}`,
        { field: 'path', value: path },
      );
    }
    outputs.push(...(list as string[]));
  }
  return outputs;
}

/** A split with PaLM's output for each row; the counts must agree (E_CORRUPT_FILE otherwise). */
export async function loadStepByStepWithOutputs(
  dir: string,
  dataset: StepByStepDataset,
  split: StepByStepSplit,
): Promise<{ examples: StepByStepExample[]; outputs: string[] }> {
  const [examples, outputs] = await Promise.all([loadStepByStepSplit(dir, dataset, split), loadRecordedOutputs(dir, dataset, split)]);
  if (examples.length !== outputs.length) {
    throw new DistilleryError('E_CORRUPT_FILE', `${dataset} ${split}: ${examples.length} rows but ${outputs.length} recorded outputs`, {
      field: 'dir',
      value: dir,
    });
  }
  return { examples, outputs };
}

export interface ExampleFields {
  id?: string;
  input?: string;
  label?: string;
  choices?: string;
  premise?: string;
  hypothesis?: string;
}

/**
 * Loads examples from your own JSONL file. Field names default to `id`, `input`, `label`,
 * `choices`, `premise`, `hypothesis`; rows without an id get `<file>-<row>`.
 */
export async function loadExamplesJsonl(path: string, fields: ExampleFields = {}): Promise<StepByStepExample[]> {
  const f = { id: 'id', input: 'input', label: 'label', choices: 'choices', premise: 'premise', hypothesis: 'hypothesis', ...fields };
  const rows = parseJsonlText<Record<string, unknown>>(await readText(path), path);
  const stem = basename(path).replace(/\.jsonl?$/, '');
  return rows.map((row, i) => {
    const premise = typeof row[f.premise] === 'string' ? (row[f.premise] as string) : undefined;
    const hypothesis = typeof row[f.hypothesis] === 'string' ? (row[f.hypothesis] as string) : undefined;
    let input = row[f.input];
    if (input === undefined && premise !== undefined && hypothesis !== undefined) input = `${premise}\n${hypothesis}`;
    if (typeof input !== 'string')
      throw new DistilleryError('E_BAD_INPUT', `${path}: row ${i + 1} has no string "${f.input}"`, {
        field: `${path}:${i + 1}.${f.input}`,
        line: i + 1,
      });
    const id = row[f.id];
    const label = row[f.label];
    const choices = row[f.choices];
    return {
      id: typeof id === 'string' || typeof id === 'number' ? String(id) : `${stem}-${i}`,
      input,
      ...(label === undefined || label === null ? {} : { label: String(label) }),
      ...(Array.isArray(choices) ? { choices: choices.map(String) } : {}),
      ...(premise !== undefined ? { premise } : {}),
      ...(hypothesis !== undefined ? { hypothesis } : {}),
    };
  });
}
