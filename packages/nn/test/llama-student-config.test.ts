import { describe, expect, it } from 'vitest';
import { llamaConfigSchema, llamaStudentConfig } from '../src/index.js';

// stories260K's shape: what a student distilled from it must share.
const teacher = llamaConfigSchema.parse({
  vocab: 512,
  width: 64,
  layers: 5,
  heads: 8,
  kvHeads: 4,
  ffn: 172,
  ropeBase: 10000,
  rmsEps: 1e-5,
  context: 512,
  tiedHead: false,
  bosToken: 1,
  eosToken: 2,
});

describe('llamaStudentConfig', () => {
  it("takes the teacher's vocabulary, RoPE base, RMSNorm ε, head tying and special tokens, and its own size and context", () => {
    const config = llamaConfigSchema.parse(
      llamaStudentConfig(teacher, { width: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 86 }, { context: 64, seed: 7 }),
    );
    expect(config).toMatchObject({ vocab: 512, ropeBase: 10000, rmsEps: 1e-5, tiedHead: false, bosToken: 1, eosToken: 2 });
    expect(config).toMatchObject({ width: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 86, context: 64, seed: 7 });
  });

  it("defaults kvHeads to heads and the feed-forward width to the teacher's ratio; no seed keeps the schema's default", () => {
    const config = llamaConfigSchema.parse(llamaStudentConfig(teacher, { width: 48, layers: 1, heads: 4 }, { context: 128 }));
    expect(config.kvHeads).toBe(4);
    expect(config.ffn).toBe(Math.round((48 * 172) / 64));
    expect(config.seed).toBe(0);
  });
});
