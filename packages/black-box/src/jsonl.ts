import { open, readFile, truncate, mkdir, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DistilleryError } from '@distillery/core';

export interface JsonlReadResult<T> {
  records: T[];
  /** Bytes after the last newline: a line torn by a crash mid-write. Ignored (and cut with `repair`). */
  tornBytes: number;
}

/**
 * Reads a JSON Lines file. A missing file reads as empty. A last line without its newline is what a
 * process killed mid-write leaves: it is ignored, and with `repair: true` cut off the file so appends
 * start on a clean line. Any other line that is not JSON is corruption: E_CORRUPT_FILE with its number.
 */
export async function readJsonl<T = unknown>(path: string, { repair = false }: { repair?: boolean } = {}): Promise<JsonlReadResult<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], tornBytes: 0 };
    throw error;
  }
  const lastNewline = text.lastIndexOf('\n');
  const complete = text.slice(0, lastNewline + 1);
  const tornBytes = Buffer.byteLength(text.slice(lastNewline + 1));
  if (tornBytes > 0 && repair) await truncate(path, Buffer.byteLength(complete));
  const records: T[] = [];
  const lines = complete.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    try {
      records.push(JSON.parse(line) as T);
    } catch (error) {
      throw new DistilleryError('E_CORRUPT_FILE', `${path}: line ${i + 1} is not valid JSON (${(error as Error).message})`, {
        field: 'path',
        value: path,
        line: i + 1,
      });
    }
  }
  return { records, tornBytes };
}

/**
 * Cuts a torn last line (bytes after the last newline) off a JSONL file, without parsing the rest.
 * Returns the bytes removed (0 for a missing or clean file).
 */
export async function repairTornTail(path: string): Promise<number> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const keep = bytes.lastIndexOf(0x0a) + 1;
  if (keep === bytes.length) return 0;
  await truncate(path, keep);
  return bytes.length - keep;
}

/**
 * Appends records to a JSONL file. Lines queued while a write is in progress go out together in the
 * next single `write` (group commit), one write at a time, so after a crash the file holds whole
 * lines plus at most one torn line at the end, which `readJsonl({ repair: true })` removes.
 * `append` resolves once its line is written. With `fsync: true` every write is also flushed to
 * disk (survives power loss, not only kill -9).
 */
export class JsonlAppender {
  readonly #handle: FileHandle;
  readonly #fsync: boolean;
  #pending: { bytes: Buffer; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #writing: Promise<void> | undefined;
  #closed = false;

  private constructor(handle: FileHandle, fsync: boolean) {
    this.#handle = handle;
    this.#fsync = fsync;
  }

  static async open(path: string, { fsync = false }: { fsync?: boolean } = {}): Promise<JsonlAppender> {
    await mkdir(dirname(path), { recursive: true });
    return new JsonlAppender(await open(path, 'a'), fsync);
  }

  append(record: unknown): Promise<void> {
    if (this.#closed) return Promise.reject(new DistilleryError('E_BAD_VALUE', 'JsonlAppender is closed', { field: 'appender' }));
    const bytes = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ bytes, resolve, reject });
      this.#writing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      const bytes = batch.length === 1 ? batch[0]!.bytes : Buffer.concat(batch.map((b) => b.bytes));
      try {
        let offset = 0;
        while (offset < bytes.length) {
          const { bytesWritten } = await this.#handle.write(bytes, offset, bytes.length - offset);
          offset += bytesWritten;
        }
        if (this.#fsync) await this.#handle.sync();
        for (const b of batch) b.resolve();
      } catch (error) {
        for (const b of batch) b.reject(error);
      }
    }
    this.#writing = undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writing;
    await this.#handle.close();
  }
}
