import { resolve } from 'node:path';
import { DistilleryError } from '@distillery/core';
import type { EndpointStats } from '@distillery/black-box';
import { exportBatchFromConfig, importBatchFromConfig, submitBatchFromConfig, type ImportBatchSummary } from '@distillery/black-box/node';
import { stepByStepInputs } from '@distillery/step-by-step/node';
import type { CliIO } from '../command.js';

/** The `collect` flags that go through Batch API files instead of live requests. */
export const batchFlags = {
  'export-batch': { type: 'string' },
  'import-batch': { type: 'string', multiple: true },
  errors: { type: 'string', multiple: true },
  'max-requests': { type: 'string' },
  'max-bytes': { type: 'string' },
  'submit-batch': { type: 'string' },
  'poll-ms': { type: 'string' },
} as const;

function positiveInt(flag: string, text: unknown): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(Number.isInteger(n) && n >= 1))
    throw new DistilleryError('E_BAD_CONFIG', `distillery collect: --${flag} must be an integer >= 1, got ${JSON.stringify(text)}`, {
      field: `--${flag}`,
      value: text,
    });
  return n;
}

const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []);

/**
 * Runs `--export-batch` / `--import-batch` when given; returns the exit code, or undefined when
 * neither flag is set (a live collection then runs).
 */
export async function runBatchFlags(
  values: Record<string, unknown>,
  config: unknown,
  baseDir: string,
  io: CliIO,
): Promise<number | undefined> {
  const exportDir = values['export-batch'] as string | undefined;
  const submitDir = values['submit-batch'] as string | undefined;
  const imports = list(values['import-batch']);
  const errors = list(values.errors);
  const json = Boolean(values.json);
  if (submitDir !== undefined) {
    if (exportDir !== undefined || imports.length)
      throw new DistilleryError(
        'E_BAD_CONFIG',
        'distillery collect: --submit-batch runs the files --export-batch wrote and imports them; give it alone',
        { field: 'argv' },
      );
    const result = await submitBatchFromConfig(
      config,
      {
        dir: resolve(io.cwd, submitDir),
        pollMs: positiveInt('poll-ms', values['poll-ms']),
        onStatus: (file, status) => io.stdout(`${file}: ${status}\n`),
      },
      { baseDir, fewShot: stepByStepInputs },
    );
    if (json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    else {
      for (const job of result.jobs)
        io.stdout(
          `batch ${job.batchId}${job.resumed ? ' (resumed)' : ''}: ${job.status}, ${job.requestCounts?.completed ?? '?'} completed, ${job.requestCounts?.failed ?? 0} failed\n`,
        );
      printImport(result.import, io);
    }
    return result.import.complete ? 0 : 1;
  }
  if (exportDir === undefined && imports.length === 0) {
    if (errors.length || values['max-requests'] !== undefined || values['max-bytes'] !== undefined || values['poll-ms'] !== undefined) {
      throw new DistilleryError(
        'E_BAD_CONFIG',
        'distillery collect: --errors goes with --import-batch, --max-requests/--max-bytes with --export-batch, --poll-ms with --submit-batch',
        { field: 'argv' },
      );
    }
    return undefined;
  }
  if (exportDir !== undefined && imports.length)
    throw new DistilleryError('E_BAD_CONFIG', 'distillery collect: --export-batch and --import-batch are separate steps; give one', {
      field: 'argv',
    });
  if (exportDir !== undefined) {
    const summary = await exportBatchFromConfig(
      config,
      {
        dir: resolve(io.cwd, exportDir),
        maxRequests: positiveInt('max-requests', values['max-requests']),
        maxBytes: positiveInt('max-bytes', values['max-bytes']),
      },
      { baseDir, fewShot: stepByStepInputs },
    );
    if (json) io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      io.stdout(
        `exported ${summary.exported} requests (${summary.skipped} already collected) into ${summary.files.length} batch file${summary.files.length === 1 ? '' : 's'}:\n`,
      );
      for (const f of summary.files) io.stdout(`  ${f.path}  ${f.requests} requests, ${(f.bytes / 1e6).toFixed(2)} MB\n`);
    }
    return 0;
  }
  const summary = await importBatchFromConfig(
    config,
    { inputs: imports.map((p) => resolve(io.cwd, p)), errorFiles: errors.map((p) => resolve(io.cwd, p)) },
    { baseDir, fewShot: stepByStepInputs },
  );
  if (json) io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
  else printImport(summary, io);
  return summary.complete ? 0 : 1;
}

/** One endpoint of a pool in the collect summary: `  http://…/v1  healthy  412 ok / 415 sent, p50 210 ms, p95 480 ms, errors http-429×3`. */
export function formatEndpointLine(e: EndpointStats): string {
  const errors = Object.entries(e.errors)
    .map(([kind, n]) => `${kind}×${n}`)
    .join(', ');
  return `  ${e.label}  ${e.state}  ${e.ok} ok / ${e.requests} sent, p50 ${e.latencyMs.p50} ms, p95 ${e.latencyMs.p95} ms${errors ? `, errors ${errors}` : ''}${e.failedOver ? `, ${e.failedOver} moved elsewhere` : ''}${e.benched ? `, benched ${e.benched}×` : ''}`;
}

function printImport(summary: ImportBatchSummary, io: CliIO): void {
  const lines = [
    `imported ${summary.imported} records into ${summary.output}; ${summary.missing} still missing${summary.complete ? ' (complete)' : ''}`,
  ];
  if (summary.failed) lines.push(`${summary.failed} failed in the batch: see ${summary.errorsPath}; --export-batch again to retry them`);
  if (summary.duplicates) lines.push(`${summary.duplicates} lines were already collected (skipped)`);
  if (summary.unknown) lines.push(`${summary.unknown} lines have a custom_id that is not in this config's input (skipped)`);
  if (summary.malformed) lines.push(`${summary.malformed} lines are not batch output (a torn download?); skipped`);
  io.stdout(`${lines.join('\n')}\n`);
}
