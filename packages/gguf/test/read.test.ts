import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dequantize, parseGguf } from '../src/index.js';

const models = fileURLToPath(new URL('../../../../shared/models/', import.meta.url));
const load = (name: string) => parseGguf(readFileSync(models + name), { source: name });

describe('parseGguf on stories260K', () => {
  it('reads the header, the llama metadata and all 48 tensors', () => {
    const f = load('stories260K.gguf');
    expect(f.version).toBe(3);
    expect(f.metadata['general.architecture']).toBe('llama');
    expect(f.metadata['llama.block_count']).toBe(5);
    expect(f.metadata['llama.embedding_length']).toBe(64);
    expect(f.metadata['llama.attention.head_count_kv']).toBe(4);
    expect((f.metadata['tokenizer.ggml.tokens'] as string[]).length).toBe(512);
    expect(f.tensors).toHaveLength(48);
    const emb = f.tensors.find((t) => t.name === 'token_embd.weight')!;
    expect(emb.shape).toEqual([512, 64]);
    expect(emb.typeName).toBe('F32');
  });

  it('F16 and Q8_0 re-encodings dequantise to the F32 weights within their documented error', () => {
    const f32 = load('stories260K.gguf');
    for (const [name, bound] of [
      ['stories260K-f16.gguf', 0.0005],
      ['stories260K-q8_0.gguf', 0.008],
    ] as const) {
      const other = load(name);
      let worst = 0;
      const types = new Set<string>();
      for (const t of other.tensors) {
        types.add(t.typeName);
        const a = dequantize(f32, t.name);
        const b = dequantize(other, t);
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      }
      expect(worst, name).toBeGreaterThan(0);
      expect(worst, name).toBeLessThan(bound);
      expect(types.size).toBeGreaterThan(1);
    }
  });

  it('a truncated file is E_CORRUPT_FILE naming the source', () => {
    const bytes = readFileSync(models + 'stories260K.gguf');
    expect(() => parseGguf(bytes.subarray(0, 1000), { source: 'cut.gguf' })).toThrow(
      expect.objectContaining({ code: 'E_CORRUPT_FILE', details: expect.objectContaining({ file: 'cut.gguf' }) }),
    );
    expect(() => parseGguf(new TextEncoder().encode('not a gguf file'), { source: 'x.txt' })).toThrow(/magic/);
  });
});
