/**
 * Node-only (`@distillery/data-tinystories/node`): absolute paths of the bundled files, for
 * `readFile` and node-llama-cpp. A page uses the URLs of the main entry instead.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root folder (dist/.. in the built package). */
function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..');
}

/** Absolute path of stories260K.gguf (Karpathy's llama2.c TinyStories model, MIT; 1,185,376 bytes). */
export function modelPath(): string {
  return join(packageRoot(), 'stories260K.gguf');
}

/** Absolute path of the 2 MiB TinyStories excerpt (CDLA-Sharing-1.0; 2,316 whole stories separated by `<|endoftext|>`). */
export function corpusPath(): string {
  return join(packageRoot(), 'tinystories-2MiB.txt');
}

/** Absolute path of the CDLA-Sharing-1.0 licence text that must travel with the excerpt. */
export function corpusLicensePath(): string {
  return join(packageRoot(), 'CDLA-Sharing-1.0.txt');
}
