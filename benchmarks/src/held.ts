/** What a case allocates and must give back: our GPU tensors, models and optimizers (`release`), tfjs tensors (`dispose`). */
export type Owned = { release(): void } | { dispose(): void };
export type Hold = <T extends Owned>(owned: T) => T;

/**
 * Runs a case with `hold(x)` marking each thing it allocates, and frees them all (last first) when
 * it ends, returned or thrown: the cases and suites after a failed one need the memory (the case
 * guard only trims the pool's free buffers).
 */
export async function withHeld<R>(run: (hold: Hold) => Promise<R>): Promise<R> {
  const held: Owned[] = [];
  try {
    return await run((owned) => {
      held.push(owned);
      return owned;
    });
  } finally {
    for (const owned of held.reverse()) {
      if ('release' in owned) owned.release();
      else owned.dispose();
    }
  }
}
