import { DistilleryError, shapeMismatch } from '@distillery/core';
import type { GpuTensor } from '@distillery/webgpu';
import { requireDtype } from '../checks.js';

function unknownName(kind: string, field: string, name: string, widths: Readonly<Record<string, number>>): DistilleryError {
  const known = Object.keys(widths);
  return new DistilleryError(
    'E_BAD_VALUE',
    `${field}: ${kind} has no hidden state ${JSON.stringify(name)}; it has ${known.length ? known.join(', ') : 'none'}`,
    {
      field,
      value: name,
      expected: `one of ${known.join(', ')}`,
      known,
    },
  );
}

/**
 * The named hidden states of a model's last forward of one mode. `lookup` is absent when the model
 * has not run a forward in that mode yet.
 */
export function pickHiddenStates(
  kind: string,
  names: readonly string[],
  widths: Readonly<Record<string, number>>,
  lookup: ((name: string) => GpuTensor) | undefined,
  training: boolean,
): Record<string, GpuTensor> {
  for (const name of names) if (!(name in widths)) throw unknownName(kind, 'names', name, widths);
  if (!lookup)
    throw new DistilleryError('E_BAD_VALUE', `${kind}.hiddenStates needs a forward with training: ${training} first`, {
      field: 'training',
      value: training,
    });
  return Object.fromEntries(names.map((name) => [name, lookup(name)]));
}

/** Checks `BackwardOptions.hidden`: known names, f32 `[rows, width]` each. */
export function requireHiddenGradients(
  kind: string,
  hidden: Readonly<Record<string, GpuTensor>> | undefined,
  widths: Readonly<Record<string, number>>,
  rows: number,
): Readonly<Record<string, GpuTensor>> {
  for (const [name, grad] of Object.entries(hidden ?? {})) {
    const width = widths[name];
    if (width === undefined) throw unknownName(kind, 'options.hidden', name, widths);
    requireDtype(grad);
    if (grad.shape.length !== 2 || grad.shape[0] !== rows || grad.shape[1] !== width) {
      throw shapeMismatch(`options.hidden[${JSON.stringify(name)}]`, grad.shape, `[${rows}, ${width}] like the hidden state ${name}`);
    }
  }
  return hidden ?? {};
}
