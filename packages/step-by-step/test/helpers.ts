import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlackBoxTeacher, Completion, CompletionRequest } from '@distillery/core';

const here = dirname(fileURLToPath(import.meta.url));
export const packageRoot = resolve(here, '..');
const repoRoot = resolve(packageRoot, '../..');
/** The whole Distilling step-by-step release: DISTILLERY_STEP_BY_STEP_DATA or <repo>/../shared/data/step-by-step. */
export const dataDir = process.env.DISTILLERY_STEP_BY_STEP_DATA ?? resolve(repoRoot, '../shared/data/step-by-step');
export const haveData = existsSync(join(dataDir, 'svamp', 'svamp_train.json'));
if (!haveData) console.warn(`skipping whole-release tests: no data at ${dataDir} (set DISTILLERY_STEP_BY_STEP_DATA)`);

export function tempDir(prefix = 'distillery-sbs-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** An in-process teacher: answers what `behave` returns (default `answer:<prompt>`), counting calls. */
export class FakeTeacher implements BlackBoxTeacher {
  readonly kind = 'black-box' as const;
  calls = 0;

  constructor(
    readonly name = 'fake',
    readonly behave: (request: CompletionRequest) => Partial<Completion> | undefined = () => undefined,
  ) {}

  async complete(request: CompletionRequest): Promise<Completion> {
    this.calls++;
    const text = `answer:${request.prompt ?? request.messages?.at(-1)?.content}`;
    return { text, finishReason: 'stop', usage: { promptTokens: 10, completionTokens: 5 }, ...this.behave(request) };
  }
}
