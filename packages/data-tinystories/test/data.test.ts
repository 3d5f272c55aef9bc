import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CORPUS_SHA256, CORPUS_STORIES, MODEL_SHA256, splitStories } from '../src/index.js';
import { corpusLicensePath, corpusPath, modelPath } from '../src/node.js';
import { corpusLicenseUrl, corpusUrl, modelUrl } from '../src/urls.js';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('@distillery/data-tinystories', () => {
  it('ships the model and the excerpt with the checksums ../shared documents, and the licence beside the excerpt', () => {
    expect(sha256(modelPath())).toBe(MODEL_SHA256);
    expect(sha256(corpusPath())).toBe(CORPUS_SHA256);
    expect(readFileSync(modelPath()).subarray(0, 4).toString('latin1')).toBe('GGUF');
    expect(readFileSync(corpusLicensePath(), 'utf8')).toContain('Community Data License Agreement');
  });

  it('the browser-safe URLs point at the same files', () => {
    expect(fileURLToPath(modelUrl())).toBe(modelPath());
    expect(fileURLToPath(corpusUrl())).toBe(corpusPath());
    expect(fileURLToPath(corpusLicenseUrl())).toBe(corpusLicensePath());
  });

  it('splitStories gives the 2,316 whole stories, trimmed, without the cut-off last one', () => {
    const text = readFileSync(corpusPath(), 'utf8');
    const stories = splitStories(text);
    expect(stories).toHaveLength(CORPUS_STORIES);
    expect(stories[0]).toMatch(/^One day, a little girl named Lily found a needle in her room\./);
    expect(stories.every((s) => s === s.trim() && s.length > 0 && !s.includes('<|endoftext|>'))).toBe(true);
    expect(text.trimEnd().endsWith(stories.at(-1)!)).toBe(false);
    expect(splitStories('a<|endoftext|>\nb<|endoftext|>\n')).toEqual(['a', 'b']);
    expect(splitStories('a<|endoftext|>\nb cut')).toEqual(['a']);
  });
});
