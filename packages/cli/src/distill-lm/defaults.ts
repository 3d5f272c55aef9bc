import { corpusPath, modelPath } from '@distillery/data-tinystories/node';

/**
 * The vendored stories260K.gguf (MIT) and TinyStories excerpt (CDLA-Sharing-1.0) of
 * @distillery/data-tinystories: what a config that names no teacher or corpus uses, so the example
 * runs from a clone with nothing beside it.
 */
export const vendored = { teacher: modelPath, corpus: corpusPath };
