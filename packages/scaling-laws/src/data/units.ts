const SUFFIX_MULTIPLIERS: Readonly<Record<string, number>> = {
  k: 1e3,
  m: 1e6,
  b: 1e9,
  g: 1e9,
  t: 1e12,
  p: 1e15,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([kmbgtp])?$/i;
const THOUSANDS = /^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$/;

/**
 * Reads a count the way people write it: 7e9, "7B", "1.5e12", "300M", "1.2T", "125k", "1_000_000",
 * "1,000,000". Suffixes are decimal (k = 1e3, M = 1e6, B or G = 1e9, T = 1e12, P = 1e15) and
 * case-insensitive. Returns NaN when the text is not a quantity (callers turn that into an error
 * that names the row and column).
 */
export function parseQuantity(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return NaN;
  let text = value.trim().replace(/_/g, '');
  if (THOUSANDS.test(text)) text = text.replace(/,/g, '');
  const match = QUANTITY.exec(text);
  if (!match) return NaN;
  const base = Number(match[1]);
  const suffix = match[2]?.toLowerCase();
  return suffix ? base * SUFFIX_MULTIPLIERS[suffix]! : base;
}

/** Reads a plain number (a loss): no suffixes, since "2.1k" is never a cross-entropy. */
export function parsePlainNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return NaN;
  const text = value.trim();
  if (text === '' || !/^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(text)) return NaN;
  return Number(text);
}

/** Short human form of a count: 7e9 -> "7B", 1.5e12 -> "1.5T"; 1e15 and above in exponent form. */
export function formatQuantity(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1e15)
    return value
      .toExponential(digits - 1)
      .replace(/\.?0+e/, 'e')
      .replace('e+', 'e');
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, suffix] of units) {
    if (Math.abs(value) >= size) return `${Number((value / size).toPrecision(digits))}${suffix}`;
  }
  return String(Number(value.toPrecision(digits)));
}
