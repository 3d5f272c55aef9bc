import { expect } from 'vitest';
import { readTensor } from '@distillery/webgpu';
import { gpuDescribe, gpuTest } from '@distillery/webgpu/testing';
import { TokenWindows } from '@distillery/white-box';
import { FixedSteps } from '../src/distill-lm/step-windows.js';

gpuDescribe('FixedSteps over TokenWindows', () => {
  gpuTest('exactly `steps` batches, passes over the windows in a seeded order, each batch naming its windows', async ({ device }) => {
    // 3 documents of 10 tokens, context 4: windows start at 0, 4, 8 → 9 windows (every token but the first predicted).
    const documents = [0, 1, 2].map((d) => Array.from({ length: 10 }, (_, i) => d * 10 + i));
    const windows = new TokenWindows(device, { documents, vocab: 30 }, { context: 4, sequences: 2, seed: 7 });
    expect(windows.windows).toBe(9);
    expect(windows.batchesPerEpoch).toBe(4);
    const data = new FixedSteps(windows, 10);
    expect(data.batchesPerEpoch).toBe(10);
    expect(data.passes).toBe(2.5);
    const seen: number[][] = [];
    for (let i = 0; i < 10; i++) {
      const batch = await data.batch(0, i);
      expect(batch.windows).toHaveLength(2);
      const tokens = (await readTensor(batch.tokens)).data as Int32Array;
      // The first token of each window is the token at the window's start in its document.
      batch.windows.forEach((w, s) => expect(tokens[s * 4]).toBe(Math.floor(w / 3) * 10 + (w % 3) * 4));
      seen.push([...batch.windows]);
    }
    // The first pass (4 batches) visits 8 distinct windows; the second pass is another order.
    expect(new Set(seen.slice(0, 4).flat()).size).toBe(8);
    expect(seen.slice(4, 8)).not.toEqual(seen.slice(0, 4));
    // Deterministic: the same step gives the same windows (resume replays the order).
    expect((await data.batch(0, 6)).windows).toEqual(seen[6]);
  });
});
