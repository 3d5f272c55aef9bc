import { DistilleryError } from '@distillery/core';

export type LlamaCppPlugin = typeof import('@distillery/plugin-teacher-llama-cpp');

/**
 * The llama.cpp teacher plugin, loaded on demand: only the llama.cpp top-k cache and the GGUF
 * export check need it. `field` and `value` name the setting that asked for it.
 */
export async function loadLlamaCppPlugin(field: string, value: unknown): Promise<LlamaCppPlugin> {
  try {
    return await import('@distillery/plugin-teacher-llama-cpp');
  } catch (error) {
    throw new DistilleryError(
      'E_NOT_FOUND',
      `${field} runs llama.cpp: install @distillery/plugin-teacher-llama-cpp (npm i @distillery/plugin-teacher-llama-cpp)`,
      { field, value },
      { cause: error },
    );
  }
}
