import { DistilleryError } from '@distillery/core';
import { DIVERGENCES, type Divergence } from '@distillery/kernels';

/** Which KD loss the kd-loss suite times: `--divergence`, `--temperature`, `--jsd-beta`. */
export interface KdLossVariant {
  divergence: Divergence;
  temperature: number;
  /** JSD's β (mixture m = βp + (1 − β)q), in (0, 1); only for `divergence: 'jsd'`. */
  beta?: number;
}

/** forward KL at T = 2: the variant the suite has always timed (its rows keep their name and params). */
export const DEFAULT_KD_VARIANT: KdLossVariant = { divergence: 'forward-kl', temperature: 2 };
const DEFAULT_JSD_BETA = 0.5;

/**
 * The suite's options, checked before any GPU work: a bad value is an E_BAD_VALUE naming the flag
 * and the value. `--jsd-beta` without `--divergence jsd` is refused rather than silently ignored.
 */
export function kdLossVariant(options: Readonly<Record<string, string | undefined>>): KdLossVariant {
  const divergence = options.divergence ?? DEFAULT_KD_VARIANT.divergence;
  if (!(DIVERGENCES as readonly string[]).includes(divergence)) throw badOption('divergence', divergence, DIVERGENCES.join(' | '));
  const temperatureText = options.temperature;
  const temperature = temperatureText === undefined ? DEFAULT_KD_VARIANT.temperature : Number(temperatureText);
  if (!(Number.isFinite(temperature) && temperature > 0)) throw badOption('temperature', temperatureText!, 'a positive number');
  const betaText = options['jsd-beta'];
  if (divergence !== 'jsd') {
    if (betaText !== undefined)
      throw new DistilleryError(
        'E_BAD_VALUE',
        `--jsd-beta applies to --divergence jsd only, not ${divergence}; got --jsd-beta ${JSON.stringify(betaText)}`,
        {
          field: '--jsd-beta',
          value: betaText,
          expected: 'no --jsd-beta, or --divergence jsd',
        },
      );
    return { divergence: divergence as Divergence, temperature };
  }
  const beta = betaText === undefined ? DEFAULT_JSD_BETA : Number(betaText);
  // β = 0 and 1 make the JSD identically 0 (docs/kernels.md): nothing worth timing.
  if (!(beta > 0 && beta < 1)) throw badOption('jsd-beta', betaText!, 'a number strictly between 0 and 1');
  return { divergence: 'jsd', temperature, beta };
}

/** The result row's name: the default keeps today's, so saved results and `compare` pair as before. */
export function kdLossRowName(variant: KdLossVariant): string {
  const label = { 'forward-kl': 'forward-KL', 'reverse-kl': 'reverse-KL', jsd: 'JSD' }[variant.divergence];
  return `fused ${label} + CE`;
}

/** The variant's row parameters beyond the shape: T always, β for JSD. */
export function kdLossVariantParams(variant: KdLossVariant): Record<string, number> {
  return variant.beta === undefined ? { T: variant.temperature } : { T: variant.temperature, beta: variant.beta };
}

function badOption(name: string, value: string, expected: string): DistilleryError {
  return new DistilleryError('E_BAD_VALUE', `--${name} must be ${expected}; got ${JSON.stringify(value)}`, {
    field: `--${name}`,
    value,
    expected,
  });
}
