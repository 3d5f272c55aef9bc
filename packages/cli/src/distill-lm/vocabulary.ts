import { DistilleryError } from '@distillery/core';
import { LlamaTokenizer, type GgufFile } from '@distillery/gguf';
import { readGgufFile } from '@distillery/gguf/node';
import { llamaSettingsFromGguf, type LlamaSettings } from '@distillery/nn';

/** A Llama GGUF's tokenizer and model settings: what a student shares with its teacher (distill-lm's kit, distill's `gguf` / `llama` parts). */
export interface LlamaVocabulary {
  readonly path: string;
  readonly file: GgufFile;
  readonly tokenizer: LlamaTokenizer;
  /** The file's model settings: vocabulary, RoPE base, RMSNorm ε… (what `llamaStudentConfig` copies). */
  readonly settings: LlamaSettings;
}

/**
 * Reads a Llama GGUF's tokenizer and settings (E_NOT_FOUND / E_CORRUPT_FILE naming the file, from
 * `readGgufFile`); a tokenizer whose size is not the model's vocabulary is E_SHAPE_MISMATCH.
 */
export async function readLlamaVocabulary(path: string): Promise<LlamaVocabulary> {
  const file = await readGgufFile(path);
  const settings = llamaSettingsFromGguf(file);
  const tokenizer = LlamaTokenizer.fromGguf(file);
  if (tokenizer.vocabSize !== settings.vocab) {
    throw new DistilleryError('E_SHAPE_MISMATCH', `${path}: the tokenizer has ${tokenizer.vocabSize} tokens, the model ${settings.vocab}`, {
      file: path,
      field: 'tokenizer.ggml.tokens',
      value: tokenizer.vocabSize,
    });
  }
  return { path, file, tokenizer, settings };
}
