import { readFile } from 'node:fs/promises';
import { DistilleryError } from '@distillery/core';

export interface StorySplit {
  /** Training stories, in file order. */
  train: string[];
  /** The held-out stories: the last `heldOutFraction` of the file's stories. */
  heldOut: string[];
  /** Stories in the file (whole ones; a cut-off last piece is dropped). */
  total: number;
}

/**
 * Splits a corpus into stories on `separator` and holds the last fraction out. A file that does
 * not end with the separator ends in a cut-off story (the TinyStories excerpt is the first 2 MiB of
 * a larger file), which is dropped; empty pieces are dropped too.
 */
export function splitStories(
  text: string,
  options: { separator: string; heldOutFraction: number; trainStories?: number; evalStories?: number; file?: string },
): StorySplit {
  const pieces = text.split(options.separator);
  if (!text.trimEnd().endsWith(options.separator)) pieces.pop();
  const stories = pieces.map((s) => s.trim()).filter((s) => s.length > 0);
  const heldOutCount = Math.ceil(stories.length * options.heldOutFraction);
  if (stories.length < 2 || heldOutCount >= stories.length) {
    throw new DistilleryError(
      'E_BAD_VALUE',
      `corpus ${options.file ?? ''} has ${stories.length} stories separated by ${JSON.stringify(options.separator)}; at least 2 are needed (one to train, one held out)`,
      {
        field: 'corpus.separator',
        value: options.separator,
        file: options.file,
      },
    );
  }
  const trainAll = stories.slice(0, stories.length - heldOutCount);
  const heldAll = stories.slice(stories.length - heldOutCount);
  return {
    train: options.trainStories === undefined ? trainAll : trainAll.slice(0, options.trainStories),
    heldOut: options.evalStories === undefined ? heldAll : heldAll.slice(0, options.evalStories),
    total: stories.length,
  };
}

export async function readStories(path: string, options: Omit<Parameters<typeof splitStories>[1], 'file'>): Promise<StorySplit> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new DistilleryError('E_NOT_FOUND', `corpus file ${path} cannot be read`, { field: 'corpus.path', value: path, file: path });
  }
  return splitStories(text, { ...options, file: path });
}
