/**
 * Browser-safe: URLs of the bundled files relative to this module (bundlers such as Vite and
 * webpack turn `new URL('…', import.meta.url)` into asset URLs), their checksums, and the story
 * splitter. No Node APIs.
 */

/** sha256 of `stories260K.gguf` (the upstream hash llama.cpp's tests pin). */
export const MODEL_SHA256 = '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d';
/** sha256 of `tinystories-2MiB.txt`. */
export const CORPUS_SHA256 = '5352b299dcb1a32898b2d779b145b5a05f3e1265953fd21c264c9f9f9c9ae33d';
/** Whole stories in the excerpt (a final, cut-off story is dropped by `splitStories`). */
export const CORPUS_STORIES = 2316;
/** TinyStories' separator between stories. */
export const STORY_SEPARATOR = '<|endoftext|>';

/** URL of stories260K.gguf (Karpathy's llama2.c TinyStories model, MIT). */
export function modelUrl(): URL {
  return new URL('../stories260K.gguf', import.meta.url);
}

/** URL of the 2 MiB TinyStories excerpt (CDLA-Sharing-1.0). */
export function corpusUrl(): URL {
  return new URL('../tinystories-2MiB.txt', import.meta.url);
}

/** URL of the CDLA-Sharing-1.0 licence text that travels with the excerpt. */
export function corpusLicenseUrl(): URL {
  return new URL('../CDLA-Sharing-1.0.txt', import.meta.url);
}

/**
 * The excerpt's stories, trimmed, in order. The excerpt is the first 2 MiB of
 * `TinyStories-train.txt`, so its last piece is a story cut off mid-way: it is dropped (when the
 * text does not end with a separator).
 */
export function splitStories(text: string): string[] {
  const pieces = text.split(STORY_SEPARATOR);
  const whole = text.trimEnd().endsWith(STORY_SEPARATOR) ? pieces : pieces.slice(0, -1);
  return whole.map((s) => s.trim()).filter((s) => s.length > 0);
}
