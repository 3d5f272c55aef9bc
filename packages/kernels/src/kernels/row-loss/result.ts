import type { DistilleryError, LossOutput, LossTerm } from '@distillery/core';
import type { GpuTensor } from '@distillery/webgpu';
import { maskedRowError, type MaskedRowCheck } from '../../shared/masked-rows.js';
import { errorFromSummary, readSummary, type SummaryContext, type SummaryValues } from '../../shared/summary.js';

/** GPU results of one fused loss, plus lazily read scalars. Implements core's `LossOutput`. */
export class RowLossResult implements LossOutput<GpuTensor> {
  /** `[rows, V]` dL/dz of the total (the student logits themselves for an in-place loss). */
  readonly gradLogits: GpuTensor;
  /** `[rows]` f32 terms as they enter the total (weighted, row weights included; not divided by N). */
  readonly perRow: { total: GpuTensor; soft: GpuTensor; hard: GpuTensor };
  readonly terms: Record<string, LossTerm<GpuTensor>>;
  readonly #summary: GpuTensor;
  readonly #context: SummaryContext;
  #values?: Promise<SummaryValues>;
  #scratch: GpuTensor[] = [];
  /** The caller's tensors (in-place logits, per-row outputs it passed): `release()` leaves them. */
  readonly #borrowed: ReadonlySet<GpuTensor>;

  constructor(
    grad: GpuTensor,
    perRow: { total: GpuTensor; soft: GpuTensor; hard: GpuTensor },
    summary: GpuTensor,
    context: SummaryContext,
    termNames: readonly ('soft' | 'hard')[],
    borrowed: ReadonlySet<GpuTensor> = new Set(),
  ) {
    this.#borrowed = borrowed;
    this.gradLogits = grad;
    this.perRow = perRow;
    this.#summary = summary;
    this.#context = context;
    this.terms = {};
    for (const name of termNames) this.terms[name] = { perRow: perRow[name], reduced: () => this.#checked().then((v) => v[name]) };
  }

  #masked?: Omit<MaskedRowCheck, 'rowstats'> & { rowstats?: GpuTensor };
  #maskedError?: Promise<DistilleryError | undefined>;

  async #checked(): Promise<SummaryValues> {
    this.#values ??= readSummary(this.#summary);
    const masked = this.#masked;
    if (masked?.rowstats && !this.#maskedError) {
      const rowstats = masked.rowstats;
      // Read in parallel with the summary; the row stats are not needed after this.
      this.#maskedError = maskedRowError({ ...masked, rowstats }).finally(() => {
        rowstats.release();
        masked.rowstats = undefined;
      });
    }
    const values = await this.#values;
    const error = (await errorFromSummary(values, this.#context)) ?? (await this.#maskedError);
    if (error) throw error;
    return values;
  }

  /** @internal Keeps the row stats until the first readback, which rejects fully masked rows. */
  keepRowStats(check: MaskedRowCheck): void {
    this.#masked = check;
  }

  /** Throws the typed error of any bad input the kernels flagged (E_NON_FINITE, E_BAD_VALUE). */
  check = async (): Promise<void> => {
    await this.#checked();
  };

  /** Σ_rows (soft + hard) ÷ N. */
  total = async (): Promise<number> => (await this.#checked()).total;
  soft = async (): Promise<number> => (await this.#checked()).soft;
  hard = async (): Promise<number> => (await this.#checked()).hard;
  /** Number of rows that counted (label ≠ ignoreIndex). */
  rows = async (): Promise<number> => (await this.#checked()).count;
  /** The N the sums and gradients were divided by. */
  normalizer = async (): Promise<number> => (await this.#checked()).normalizer;

  /**
   * Hands the intermediate buffers (partials, row stats) back to the pool. Call it once the
   * recorder holding this loss was submitted (`kdLoss` does); `release()` does it too.
   */
  releaseScratch(): void {
    for (const t of this.#scratch) t.release();
    this.#scratch = [];
  }

  /** @internal */
  adoptScratch(scratch: GpuTensor[]): void {
    this.#scratch.push(...scratch);
  }

  /** Returns every buffer it made (gradient included, unless it is the in-place logits) to the pool. */
  release(): void {
    this.releaseScratch();
    if (this.#masked?.rowstats && !this.#maskedError) {
      this.#masked.rowstats.release();
      this.#masked.rowstats = undefined;
    }
    for (const t of [this.gradLogits, this.perRow.total, this.perRow.soft, this.perRow.hard]) if (!this.#borrowed.has(t)) t.release();
    this.#summary.release();
  }
}
