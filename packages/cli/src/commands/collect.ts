import { dirname, resolve } from 'node:path';
import { DistilleryError } from '@distillery/core';
import { formatCollectProgress, type CollectProgress } from '@distillery/black-box';
import { readConfigFile, runCollectConfig } from '@distillery/black-box/node';
import { stepByStepInputs } from '@distillery/step-by-step/node';
import { parseCommandArgs } from '../args.js';
import type { CliCommand, CliIO } from '../command.js';
import { batchFlags, formatEndpointLine, runBatchFlags } from './collect-batch.js';

/**
 * Draws collection progress: one redrawn line on a terminal (at most every 100 ms), or a plain
 * line per 10 % (and at the end) when stdout is a file or a pipe.
 */
export function progressPrinter(io: CliIO): { update: (label: string, p: CollectProgress) => void; done: () => void } {
  let lastDraw = 0;
  let lastDecile = new Map<string, number>();
  let drawn = false;
  let last: { label: string; p: CollectProgress } | undefined;
  const draw = (label: string, p: CollectProgress) => {
    io.stdout(`\r${formatCollectProgress(p, { label })}\u001b[K`);
    drawn = true;
  };
  return {
    update(label, p) {
      last = { label, p };
      if (io.isTTY) {
        const now = performance.now();
        if (now - lastDraw >= 100 || p.done + p.failed === p.total) {
          lastDraw = now;
          draw(label, p);
        }
        return;
      }
      const decile = p.total ? Math.floor(((p.done + p.failed) / p.total) * 10) : 10;
      if (decile > (lastDecile.get(label) ?? -1)) {
        lastDecile.set(label, decile);
        io.stdout(`${formatCollectProgress(p, { label })}\n`);
      }
    },
    done() {
      if (io.isTTY && last) draw(last.label, last.p);
      if (drawn) io.stdout('\n');
      drawn = false;
      lastDecile = new Map();
    },
  };
}

/** Stops a run cleanly on Ctrl-C (the second Ctrl-C kills as usual). */
export function abortOnSigint(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    process.removeListener('SIGINT', onSigint);
    controller.abort(new Error('interrupted (Ctrl-C)'));
  };
  process.once('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.removeListener('SIGINT', onSigint) };
}

export function configPathOf(command: string, positionals: string[], io: CliIO): string {
  if (positionals.length !== 1) {
    throw new DistilleryError(
      'E_BAD_CONFIG',
      `distillery ${command}: expected one config file, got ${positionals.length ? positionals.join(' ') : 'none'}`,
      { field: 'argv', value: positionals },
    );
  }
  return resolve(io.cwd, positionals[0]!);
}

export const collectCommand: CliCommand = {
  name: 'collect',
  summary: 'Run a black-box teacher over a dataset into resumable JSONL (retries, rate limits, budget, cache)',
  usage: `Usage: distillery collect <config.json> [--no-resume] [--json]

Runs the teacher named in the config over every input and appends one JSONL record per input
({id, key, teacher, completion, cached, attempts, ms}). Resumes by default: ids already in the
output are skipped, a line torn by a crash is repaired, and the response cache answers repeats.
Failures that outlast the retries go to <output>.errors.jsonl and are retried on the next run.
The output is locked (<output>.lock) while a run writes it: a second run on it exits 2 (E_LOCKED)
naming the first one's pid, host and start; a lock left by a dead process is taken over.
Relative paths in the config are resolved against the config file's folder.

  --no-resume   start the output over (the cache still answers repeated requests)
  --json        print the final summary as JSON
  --shard i/n   collect only shard i of n (ids partitioned by a stable hash; see distillery merge)

Batch APIs (OpenAI Batch API, vLLM run_batch; see docs/scale-out.md):
  --export-batch DIR            write the requests not yet in the output as Batch API input files
                                (split at --max-requests, default 50000, and --max-bytes, default 200 MB)
  --import-batch OUT.jsonl      read batch output back into the output (repeatable), with
    [--errors ERR.jsonl]        the batch's error file(s); ids already collected are skipped
  --submit-batch DIR            send DIR's batch files to the teacher's Batch API (files + batches
    [--poll-ms 30000]           routes), wait, download and import; a rerun resumes the same batches

Config (JSON; see docs/black-box.md):
  teacher      {"name": "openai", "baseURL": "...", "model": "...", "apiKeyEnv": "OPENAI_API_KEY"},
               a plugin's teacher (list its package in "plugins"), or "recorded" with input.stepByStep
               or a pool: {"name": "openai", "model": "...", "endpoints": [{"baseURL": "...",
               "concurrency": 8, "requestsPerMinute": 600, "weight": 1, "apiKeyEnv": "..."}, ...]}
  input        {"requests": "file.jsonl"} | {"examples": "file.jsonl", "preset": "...", "exemplars": [...]}
               | {"stepByStep": {"dataset": "svamp"|"cqa", "split": "train"|"test", "dir"?: "..."}}
               (no dir: the release copy vendored in @distillery/step-by-step)
  output       JSONL path
  sampling     {temperature, maxTokens, stop, topLogprobs, seed}
  export       {"dir": "data/"}: also write the records as training data there, in input order:
               prompt-completion.jsonl ({id, prompt, completion}), messages.jsonl ({id, messages})
               and a dataset card (README.md); the output, errors and cache stay outside it
  concurrency, timeoutMs, retry, rateLimit, budget, cache, fsync`,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('collect', argv, {
      'no-resume': { type: 'boolean' },
      json: { type: 'boolean' },
      shard: { type: 'string' },
      ...batchFlags,
    });
    const path = configPathOf('collect', positionals, io);
    const config = (await readConfigFile(path)) as Record<string, unknown>;
    if (values['no-resume'] && config && typeof config === 'object') config.resume = false;
    if (typeof values.shard === 'string' && config && typeof config === 'object') config.shard = values.shard;
    const batch = await runBatchFlags(values, config, dirname(path), io);
    if (batch !== undefined) return batch;
    const progress = progressPrinter(io);
    const sigint = abortOnSigint();
    let run;
    try {
      run = await runCollectConfig(config, {
        baseDir: dirname(path),
        fewShot: stepByStepInputs,
        signal: sigint.signal,
        onProgress: (_label, p) => progress.update('collect', p),
      });
    } finally {
      sigint.dispose();
      progress.done();
    }
    const s = run.summary;
    if (values.json) io.stdout(`${JSON.stringify({ teacher: run.teacher, ...s }, null, 2)}\n`);
    else {
      const lines = [
        `${s.complete ? 'complete' : 'incomplete'}: ${s.done}/${s.total} records in ${s.output} (${s.resumed} resumed, ${s.cached} from cache, ${s.done - s.resumed - s.cached} from ${run.teacher})`,
        `spend: ${s.spend.requests} requests, ${s.spend.promptTokens + s.spend.completionTokens} tokens${s.spend.costUsd ? `, $${s.spend.costUsd.toFixed(4)}` : ''}; retries ${s.retries}; ${(s.elapsedMs / 1000).toFixed(1)} s`,
      ];
      for (const e of s.endpoints ?? []) lines.push(formatEndpointLine(e));
      if (run.export)
        lines.push(
          `training data: ${run.export.rows} rows in ${run.export.dir} (prompt-completion.jsonl, messages.jsonl, README.md)${run.export.missing ? `; ${run.export.missing} inputs without a record left out` : ''}`,
        );
      if (s.failed) lines.push(`${s.failed} failed: see ${s.errorsPath}; rerun to retry them`);
      if (s.stopped === 'budget') lines.push('stopped at the budget; raise it and rerun to continue');
      if (s.stopped === 'aborted') lines.push('interrupted; rerun to continue');
      if (s.repairedBytes) lines.push(`repaired a torn last line (${s.repairedBytes} bytes) left by an earlier crash`);
      if (s.stale) lines.push(`${s.stale} existing records were made from different requests (kept; use --no-resume to redo)`);
      if (s.repairedErrorBytes) lines.push(`repaired a torn last line (${s.repairedErrorBytes} bytes) in ${s.errorsPath}`);
      if (s.duplicates)
        lines.push(`${s.duplicates} records repeat an id already in ${s.output} (two runs wrote to it at once before outputs were locked)`);
      if (s.lockTakenOverFrom)
        lines.push(
          `took over the lock left by pid ${s.lockTakenOverFrom.pid} on ${s.lockTakenOverFrom.host} (started ${s.lockTakenOverFrom.startedAt}), which is no longer running`,
        );
      io.stdout(`${lines.join('\n')}\n`);
    }
    if (s.stopped === 'aborted') return 130;
    return s.failed ? 1 : 0;
  },
};
