import { DistilleryError, parseConfig } from '@distillery/core';
import { dequantize, getTensorInfo, parseGguf, requireMetadata, type GgufFile } from '@distillery/gguf';
import { llamaConfigSchema, llamaParameterShapes, type LlamaSettings } from './config.js';

export interface LlamaGgufOptions {
  /**
   * Tokens per sequence to run the model on; default the GGUF's `llama.context_length`. A model may
   * have been trained on a shorter context than its file says (stories260K: 512 trained, 2048 in the
   * file): pass that context yourself. Longer than the file's is refused.
   */
  context?: number;
  /** Name used in errors when `bytes` are given (a path or URL). */
  source?: string;
}

function fail(
  code: 'E_UNSUPPORTED' | 'E_BAD_VALUE' | 'E_BAD_INPUT' | 'E_SHAPE_MISMATCH',
  file: GgufFile,
  field: string,
  value: unknown,
  expected: string,
  what: string,
): DistilleryError {
  return new DistilleryError(code, `${file.source}: ${what}`, { file: file.source, field, value, expected });
}

export function asGgufFile(input: Uint8Array | ArrayBuffer | GgufFile, source = '<bytes>'): GgufFile {
  return input instanceof Uint8Array || input instanceof ArrayBuffer ? parseGguf(input, { source }) : input;
}

function optionalNumber(file: GgufFile, key: string): number | undefined {
  return file.metadata[key] === undefined ? undefined : requireMetadata(file, key, 'number');
}

/** The tokenizer model a GGUF llama must carry (the student shares it). */
export function requireLlamaTokenizer(file: GgufFile): { tokens: number; bos: number; eos: number } {
  const model = requireMetadata(file, 'tokenizer.ggml.model', 'string');
  if (model !== 'llama') {
    throw fail(
      'E_UNSUPPORTED',
      file,
      'metadata["tokenizer.ggml.model"]',
      model,
      'llama',
      `tokenizer.ggml.model is ${JSON.stringify(model)}; Distillery's Llama models use the llama (SentencePiece-style) tokenizer`,
    );
  }
  const tokens = requireMetadata(file, 'tokenizer.ggml.tokens', 'array').length;
  return {
    tokens,
    bos: optionalNumber(file, 'tokenizer.ggml.bos_token_id') ?? 1,
    eos: optionalNumber(file, 'tokenizer.ggml.eos_token_id') ?? 2,
  };
}

/**
 * A llama GGUF's architecture as `LlamaSettings`: `general.architecture` must be `llama`, the
 * tokenizer `llama`, and the token embedding must have one row per token.
 */
export function llamaSettingsFromGguf(file: GgufFile, options: LlamaGgufOptions = {}): LlamaSettings {
  const arch = requireMetadata(file, 'general.architecture', 'string');
  if (arch !== 'llama') {
    throw fail(
      'E_UNSUPPORTED',
      file,
      'metadata["general.architecture"]',
      arch,
      'llama',
      `general.architecture is ${JSON.stringify(arch)}; LlamaLm reads llama GGUFs only`,
    );
  }
  const tokenizer = requireLlamaTokenizer(file);
  const num = (key: string) => requireMetadata(file, `llama.${key}`, 'number');
  const trained = num('context_length');
  const context = options.context ?? trained;
  if (!(Number.isInteger(context) && context >= 1 && context <= trained)) {
    throw fail(
      'E_BAD_VALUE',
      file,
      'context',
      context,
      `an integer from 1 to ${trained} (llama.context_length)`,
      `context ${context} is longer than the model's llama.context_length ${trained}`,
    );
  }
  const width = num('embedding_length');
  const heads = num('attention.head_count');
  const embedding = getTensorInfo(file, 'token_embd.weight');
  if (embedding.shape[0] !== tokenizer.tokens || embedding.shape[1] !== width) {
    throw fail(
      'E_SHAPE_MISMATCH',
      file,
      'tensors["token_embd.weight"].shape',
      embedding.shape,
      `[${tokenizer.tokens}, ${width}]`,
      `token_embd.weight is [${embedding.shape.join(', ')}], the tokenizer has ${tokenizer.tokens} tokens and the width is ${width}`,
    );
  }
  return parseConfig(
    llamaConfigSchema,
    {
      vocab: tokenizer.tokens,
      width,
      layers: num('block_count'),
      heads,
      kvHeads: optionalNumber(file, 'llama.attention.head_count_kv') ?? heads,
      ffn: num('feed_forward_length'),
      ropeDims: optionalNumber(file, 'llama.rope.dimension_count') ?? width / heads,
      ropeBase: optionalNumber(file, 'llama.rope.freq_base') ?? 10000,
      rmsEps: num('attention.layer_norm_rms_epsilon'),
      context,
      tiedHead: !file.tensors.some((t) => t.name === 'output.weight'),
      bosToken: tokenizer.bos,
      eosToken: tokenizer.eos,
    },
    `${file.source}`,
  );
}

/** Every parameter of a llama GGUF dequantised to float32, by tensor name, shapes checked against `settings`. */
export function llamaWeightsFromGguf(file: GgufFile, settings: LlamaSettings): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, shape] of llamaParameterShapes(settings)) {
    const info = getTensorInfo(file, name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw fail(
        'E_SHAPE_MISMATCH',
        file,
        `tensors["${name}"].shape`,
        info.shape,
        `[${shape.join(', ')}]`,
        `tensor ${name} is [${info.shape.join(', ')}], the llama metadata implies [${shape.join(', ')}]`,
      );
    }
    out[name] = dequantize(file, info);
  }
  return out;
}
