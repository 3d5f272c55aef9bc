import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ggufSpecOf, parseGguf } from '../src/index.js';
import { readGgufFile, writeGgufFile } from '../src/node.js';

const model = fileURLToPath(new URL('../../../../shared/models/stories260K.gguf', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'distillery-gguf-node-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('readGgufFile / writeGgufFile', () => {
  it('reads a file with the path as its source, and writes bytes or a spec back identically', async () => {
    const file = await readGgufFile(model);
    expect(file.source).toBe(model);
    expect(file.tensors).toHaveLength(48);
    const fromSpec = join(dir, 'sub', 'from-spec.gguf');
    await writeGgufFile(fromSpec, ggufSpecOf(file));
    expect(Buffer.compare(readFileSync(fromSpec), readFileSync(model))).toBe(0);
    const fromBytes = join(dir, 'from-bytes.gguf');
    await writeGgufFile(fromBytes, file.bytes);
    expect((await readGgufFile(fromBytes)).metadata['general.architecture']).toBe('llama');
  });

  it('refuses to overwrite unless asked, and leaves the file alone', async () => {
    const path = join(dir, 'existing.gguf');
    writeFileSync(path, 'keep me');
    const error = await failure(writeGgufFile(path, parseGguf(readFileSync(model)).bytes));
    expect(error).toMatchObject({
      code: 'E_BAD_VALUE',
      details: { file: path, field: 'overwrite' },
      message: expect.stringContaining(path),
    });
    expect((error as Error).message).toContain('overwrite: true');
    expect(readFileSync(path, 'utf8')).toBe('keep me');
    await writeGgufFile(path, readFileSync(model), { overwrite: true });
    expect((await readGgufFile(path)).tensors).toHaveLength(48);
  });

  it('a missing path, a directory and a non-GGUF file are typed errors naming the path', async () => {
    const missing = join(dir, 'nope.gguf');
    expect(await failure(readGgufFile(missing))).toMatchObject({
      code: 'E_NOT_FOUND',
      details: { file: missing },
      message: expect.stringContaining(missing),
    });
    expect(await failure(readGgufFile(dir))).toMatchObject({
      code: 'E_BAD_INPUT',
      details: { file: dir },
      message: expect.stringContaining('directory'),
    });
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'hello, not a model');
    expect(await failure(readGgufFile(text))).toMatchObject({
      code: 'E_CORRUPT_FILE',
      details: { file: text, field: 'magic' },
      message: expect.stringContaining(text),
    });
    const empty = join(dir, 'empty.gguf');
    writeFileSync(empty, '');
    expect(await failure(readGgufFile(empty))).toMatchObject({ code: 'E_CORRUPT_FILE', details: { file: empty } });
  });
});

describe('the main entry is browser-safe', () => {
  it('no module reachable from src/index.ts imports a node: builtin or the ./node entry', () => {
    const src = fileURLToPath(new URL('../src/', import.meta.url));
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(src, file), 'utf8');
      expect(text, file).not.toMatch(/from ['"]node:|require\(['"]node:|@distillery\/core\/node/);
      // Relative imports resolve against the importing module's folder (src/tokenizer/… imports its siblings).
      for (const [, dep] of text.matchAll(/from '(\.\.?\/[\w/.-]+)\.js'/g))
        visit(posix.normalize(posix.join(posix.dirname(file), `${dep}.ts`)));
    };
    visit('index.ts');
    expect(seen.size).toBeGreaterThan(5);
    expect(seen.has('node.ts')).toBe(false);
  });
});
