import { readFileSync } from 'node:fs';
import { parseGguf } from '@distillery/gguf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llamaSettingsFromGguf, llamaWeightsFromGguf } from '../src/models/llama/gguf-read.js';
import { llamaReference, logSoftmax } from '../src/models/llama/reference.js';
import { haveShared, LlamaCpp, STORIES260K, stories, worstLogprobDiff } from './llama-cpp.js';

// The float64 reference reads stories260K straight from its GGUF: llama.cpp agreeing with it checks
// the reading of the file (tensor names, layouts, rope pairing, metadata) independently of the GPU.
describe.skipIf(!haveShared)('float64 Llama reference vs llama.cpp (stories260K)', () => {
  let cpp: LlamaCpp;
  beforeAll(async () => {
    cpp = await LlamaCpp.load(STORIES260K.F32);
  });
  afterAll(async () => cpp?.dispose());

  it('next-token log-probabilities agree to 1e-4 on 4 stories', async () => {
    const file = parseGguf(readFileSync(STORIES260K.F32), { source: STORIES260K.F32 });
    const settings = llamaSettingsFromGguf(file, { context: 512 });
    const weights = llamaWeightsFromGguf(file, settings);
    let worst = 0;
    for (const story of stories(4)) {
      const ids = cpp.tokenize(story, 48);
      const theirs = await cpp.logprobs(ids, settings.vocab);
      const { logits } = llamaReference(settings, weights, ids);
      theirs.forEach((row, t) => {
        worst = Math.max(worst, worstLogprobDiff(logSoftmax(logits.subarray(t * settings.vocab, (t + 1) * settings.vocab)), row));
      });
    }
    console.log(`reference vs llama.cpp: worst |Δ log p| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  });
});
