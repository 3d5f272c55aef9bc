/**
 * A safe arithmetic evaluator for teacher text: numbers, + - * / (also × ÷), unary signs and
 * parentheses — nothing else. It is a small recursive-descent parser, never eval/Function, with
 * limits on length and nesting, so hostile or garbled teacher output can only fail to parse.
 */
export type ArithResult = { ok: true; value: number } | { ok: false; error: string; at: number };

const MAX_LENGTH = 2000;
const MAX_DEPTH = 64;

class ArithError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

export function evaluateArithmetic(text: string): ArithResult {
  if (text.length > MAX_LENGTH) return { ok: false, error: `expression longer than ${MAX_LENGTH} characters`, at: 0 };
  let pos = 0;
  let depth = 0;
  const skip = () => {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  };
  const peek = (): string | undefined => {
    skip();
    return text[pos];
  };

  const number = (): number => {
    skip();
    const match = /^(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?/.exec(text.slice(pos));
    const raw = match?.[0] ?? '';
    if (raw === '' || raw === '.')
      throw new ArithError(`expected a number or "(" at ${JSON.stringify(text.slice(pos, pos + 10) || 'end')}`, pos);
    pos += raw.length;
    return Number(raw.replace(/,/g, ''));
  };

  const primary = (): number => {
    const c = peek();
    if (c === '(') {
      if (++depth > MAX_DEPTH) throw new ArithError(`nesting deeper than ${MAX_DEPTH}`, pos);
      pos++;
      const value = expr();
      if (peek() !== ')') throw new ArithError('missing ")"', pos);
      pos++;
      depth--;
      return value;
    }
    return number();
  };

  const unary = (): number => {
    const c = peek();
    if (c === '-' || c === '+' || c === '−') {
      if (++depth > MAX_DEPTH) throw new ArithError(`nesting deeper than ${MAX_DEPTH}`, pos);
      pos++;
      const value = unary();
      depth--;
      return c === '+' ? value : -value;
    }
    return primary();
  };

  const term = (): number => {
    let value = unary();
    while (true) {
      const c = peek();
      if (c === '*' || c === '×') {
        pos++;
        value *= unary();
      } else if (c === '/' || c === '÷') {
        const at = pos++;
        const divisor = unary();
        if (divisor === 0) throw new ArithError('division by zero', at);
        value /= divisor;
      } else return value;
    }
  };

  function expr(): number {
    let value = term();
    while (true) {
      const c = peek();
      if (c === '+') {
        pos++;
        value += term();
      } else if (c === '-' || c === '−') {
        pos++;
        value -= term();
      } else return value;
    }
  }

  try {
    const value = expr();
    skip();
    if (pos < text.length) throw new ArithError(`unexpected ${JSON.stringify(text.slice(pos, pos + 10))}`, pos);
    if (!Number.isFinite(value)) throw new ArithError('result is not finite', 0);
    return { ok: true, value };
  } catch (error) {
    if (error instanceof ArithError) return { ok: false, error: error.message, at: error.at };
    throw error;
  }
}

/** Equal up to floating-point rounding (relative 1e-9): `(a + b) / c` and `a / c + b / c` agree. */
export function sameNumber(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}
