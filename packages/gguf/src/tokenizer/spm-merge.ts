/**
 * The merge loop of llama.cpp's SentencePiece tokenizer (`llm_tokenizer_spm_session`), on a JS string.
 *
 * The text (already whitespace-escaped) is cut into characters, kept as a doubly linked list of symbols; every adjacent
 * pair whose concatenation is a vocabulary entry goes into a max-heap keyed by that entry's score (ties: the leftmost
 * pair first). Popping the best pair merges it and offers the two new neighbour pairs; stale pairs are recognised
 * exactly as llama.cpp does (a side already merged away, or a length that no longer adds up). O(n log n), no rescans.
 */

/** What the merge loop needs from the vocabulary. */
export interface MergeVocabulary {
  /** Token id of an exact piece text, or undefined. */
  idOf(text: string): number | undefined;
  score(id: number): number;
  /** Appends the byte-fallback ids of `piece` (a character with no token of its own). */
  pushBytes(piece: string, out: number[]): void;
}

/**
 * A binary max-heap of candidate pairs in parallel arrays (a story has thousands of pairs, a whole book millions:
 * objects per pair would dominate the time).
 */
class PairHeap {
  #left: Int32Array;
  #right: Int32Array;
  #size: Int32Array;
  #score: Float64Array;
  #length = 0;

  constructor(capacity: number) {
    const n = Math.max(16, capacity);
    this.#left = new Int32Array(n);
    this.#right = new Int32Array(n);
    this.#size = new Int32Array(n);
    this.#score = new Float64Array(n);
  }

  get length(): number {
    return this.#length;
  }

  /** Whether entry a must come out before entry b: higher score, then smaller left index (llama.cpp's comparator). */
  #before(a: number, b: number): boolean {
    const sa = this.#score[a]!;
    const sb = this.#score[b]!;
    return sa > sb || (sa === sb && this.#left[a]! < this.#left[b]!);
  }

  #swap(a: number, b: number): void {
    const l = this.#left,
      r = this.#right,
      z = this.#size,
      s = this.#score;
    let t = l[a]!;
    l[a] = l[b]!;
    l[b] = t;
    t = r[a]!;
    r[a] = r[b]!;
    r[b] = t;
    t = z[a]!;
    z[a] = z[b]!;
    z[b] = t;
    const f = s[a]!;
    s[a] = s[b]!;
    s[b] = f;
  }

  #grow(): void {
    const n = this.#left.length * 2;
    const copy = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.#left = copy(this.#left, (k) => new Int32Array(k));
    this.#right = copy(this.#right, (k) => new Int32Array(k));
    this.#size = copy(this.#size, (k) => new Int32Array(k));
    this.#score = copy(this.#score, (k) => new Float64Array(k));
  }

  push(left: number, right: number, size: number, score: number): void {
    if (this.#length === this.#left.length) this.#grow();
    let i = this.#length++;
    this.#left[i] = left;
    this.#right[i] = right;
    this.#size[i] = size;
    this.#score[i] = score;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  /** Removes the best entry and writes it to `top` as [left, right, size]. */
  pop(top: Int32Array): void {
    top[0] = this.#left[0]!;
    top[1] = this.#right[0]!;
    top[2] = this.#size[0]!;
    const last = --this.#length;
    if (last === 0) return;
    this.#left[0] = this.#left[last]!;
    this.#right[0] = this.#right[last]!;
    this.#size[0] = this.#size[last]!;
    this.#score[0] = this.#score[last]!;
    let i = 0;
    for (;;) {
      const a = 2 * i + 1;
      if (a >= last) break;
      const b = a + 1;
      const best = b < last && this.#before(b, a) ? b : a;
      if (!this.#before(best, i)) break;
      this.#swap(i, best);
      i = best;
    }
  }
}

/**
 * Tokenizes one escaped fragment (spaces already `▁`) and appends the ids to `out`.
 * Symbol lengths are in UTF-16 units rather than llama.cpp's bytes: both only grow or drop to zero, so the
 * staleness test (`left + right === size at push time`) accepts and rejects the same pairs.
 */
export function mergeFragment(text: string, vocab: MergeVocabulary, out: number[]): void {
  const units = text.length;
  if (units === 0) return;
  const start = new Int32Array(units);
  const len = new Int32Array(units);
  const prev = new Int32Array(units);
  const next = new Int32Array(units);
  let count = 0;
  for (let at = 0; at < units;) {
    const c = text.charCodeAt(at);
    // A surrogate pair is one character (4 UTF-8 bytes); the caller made the string well-formed.
    const width = c >= 0xd800 && c <= 0xdbff && at + 1 < units ? 2 : 1;
    start[count] = at;
    len[count] = width;
    prev[count] = count - 1;
    at += width;
    next[count] = at === units ? -1 : count + 1;
    count++;
  }

  const heap = new PairHeap(count);
  const offer = (left: number, right: number): void => {
    if (left === -1 || right === -1) return;
    const size = len[left]! + len[right]!;
    const id = vocab.idOf(text.slice(start[left]!, start[left]! + size));
    if (id === undefined) return;
    heap.push(left, right, size, vocab.score(id));
  };
  for (let i = 1; i < count; i++) offer(i - 1, i);

  const top = new Int32Array(3);
  while (heap.length > 0) {
    heap.pop(top);
    const left = top[0]!,
      right = top[1]!,
      size = top[2]!;
    if (len[left] === 0 || len[right] === 0 || len[left]! + len[right]! !== size) continue;
    len[left] = size;
    len[right] = 0;
    next[left] = next[right]!;
    if (next[right]! >= 0) prev[next[right]!] = left;
    offer(prev[left]!, left);
    offer(left, next[left]!);
  }

  // Every merged symbol is a vocabulary entry by construction, so llama.cpp's `rev_merge` re-split never applies:
  // what is left unmatched is a single character, which falls back to its UTF-8 bytes.
  for (let i = 0; i !== -1; i = next[i]!) {
    const piece = text.slice(start[i]!, start[i]! + len[i]!);
    const id = vocab.idOf(piece);
    if (id !== undefined) out.push(id);
    else vocab.pushBytes(piece, out);
  }
}
