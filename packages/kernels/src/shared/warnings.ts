/**
 * One-time warnings for settings that are legal but almost certainly not what the user meant.
 * Browser-safe: `process.emitWarning` in Node (so `--no-warnings` and warning listeners apply),
 * `console.warn` elsewhere.
 */
const warned = new Set<string>();

export function warnOnce(code: string, message: string): boolean {
  if (warned.has(code)) return false;
  warned.add(code);
  const proc = (globalThis as { process?: { emitWarning?: (message: string, options: { code: string }) => void } }).process;
  if (typeof proc?.emitWarning === 'function') proc.emitWarning(message, { code });
  else console.warn(`${code}: ${message}`);
  return true;
}

/** Forgets which warnings were given (tests). */
export function resetWarnings(): void {
  warned.clear();
}

/**
 * JSD in the GKD form, β·KL(P‖M) + (1−β)·KL(Q‖M), is identically 0 at β = 0 and β = 1: a run that
 * sets β there (as TRL users do to mean "forward" or "reverse" KL) trains on no teacher signal.
 * `jsdNormalized: true` turns those ends into forward / reverse KL; without it we warn, once.
 */
export function warnDegenerateJsd(divergence: string, beta: number, jsdNormalized: boolean, softWeight: number): boolean {
  if (divergence !== 'jsd' || jsdNormalized || softWeight === 0 || (beta !== 0 && beta !== 1)) return false;
  return warnOnce(
    'DISTILLERY_JSD_DEGENERATE_BETA',
    `divergence 'jsd' with beta = ${beta} is identically 0: the soft (teacher) term contributes no loss and no gradient. ` +
      `Set jsdNormalized: true to get ${beta === 0 ? 'forward' : 'reverse'} KL at this end, or pick beta in (0, 1).`,
  );
}
