import { DistilleryError } from '@distillery/core';
import {
  GGML_BLOCK,
  ggufValue,
  requireMetadata,
  writeGguf,
  type GgufFile,
  type GgufMetadataEntry,
  type GgufTensorSpec,
} from '@distillery/gguf';
import { llamaParameterShapes, type LlamaSettings } from './config.js';
import { requireLlamaTokenizer } from './gguf-read.js';

export type LlamaGgufType = 'F32' | 'F16' | 'Q8_0';

export interface LlamaToGgufOptions {
  /**
   * Storage of the 2-D weights (default F32). Norm gains stay F32 (as llama.cpp's converter keeps
   * them); a Q8_0 weight whose rows are not a multiple of 32 values is stored F16 (ggml's blocks).
   */
  type?: LlamaGgufType;
  /** The GGUF whose tokenizer the model uses (a student shares its teacher's). Default: the file the model was read from. */
  tokenizerFrom?: GgufFile;
  /** `general.name` (default "distillery-llama"). */
  name?: string;
}

const FILE_TYPE: Record<LlamaGgufType, number> = { F32: 0, F16: 1, Q8_0: 7 };

function storageType(shape: readonly number[], type: LlamaGgufType): LlamaGgufType {
  if (shape.length < 2 || type === 'F32') return 'F32';
  if (type === 'Q8_0' && shape[shape.length - 1]! % GGML_BLOCK.Q8_0!.elements !== 0) return 'F16';
  return type;
}

/** The tokenizer metadata entries (`tokenizer.*`) of `file`, checked against the model's vocabulary. */
export function tokenizerEntries(file: GgufFile, vocab: number): Map<string, GgufMetadataEntry> {
  const { tokens } = requireLlamaTokenizer(file);
  if (tokens !== vocab) {
    throw new DistilleryError(
      'E_SHAPE_MISMATCH',
      `${file.source}: the tokenizer has ${tokens} tokens, the model's vocabulary is ${vocab}`,
      {
        file: file.source,
        field: 'tokenizer.ggml.tokens',
        value: tokens,
        expected: String(vocab),
      },
    );
  }
  requireMetadata(file, 'tokenizer.ggml.tokens', 'array');
  return new Map([...file.entries].filter(([key]) => key.startsWith('tokenizer.')));
}

/**
 * A GGUF v3 file of a Llama that llama.cpp loads: `general.architecture = llama`, the `llama.*`
 * hyper-parameters, the tokenizer's metadata, and the weights under llama.cpp's tensor names and
 * layouts (which are the model's own: q/k rows already in the NORM-rope pairing).
 */
export function llamaToGguf(
  settings: LlamaSettings,
  weights: Readonly<Record<string, Float32Array>>,
  tokenizer: Map<string, GgufMetadataEntry>,
  options: LlamaToGgufOptions = {},
): Uint8Array {
  const type = options.type ?? 'F32';
  if (!(type in FILE_TYPE)) {
    throw new DistilleryError('E_BAD_VALUE', `toGguf type ${JSON.stringify(type)} is not one of F32, F16, Q8_0`, {
      field: 'type',
      value: type,
      expected: 'F32 | F16 | Q8_0',
    });
  }
  const s = settings;
  const u32 = ggufValue.u32;
  const metadata = new Map<string, GgufMetadataEntry | string>([
    ['general.architecture', 'llama'],
    ['general.name', options.name ?? 'distillery-llama'],
    ['general.file_type', u32(FILE_TYPE[type])],
    ['llama.context_length', u32(s.context)],
    ['llama.embedding_length', u32(s.width)],
    ['llama.block_count', u32(s.layers)],
    ['llama.feed_forward_length', u32(s.ffn)],
    ['llama.attention.head_count', u32(s.heads)],
    ['llama.attention.head_count_kv', u32(s.kvHeads)],
    ['llama.rope.dimension_count', u32(s.ropeDims)],
    ['llama.rope.freq_base', ggufValue.f32(s.ropeBase)],
    ['llama.attention.layer_norm_rms_epsilon', ggufValue.f32(s.rmsEps)],
    ['llama.vocab_size', u32(s.vocab)],
    ...tokenizer,
  ]);
  const tensors: GgufTensorSpec[] = llamaParameterShapes(s).map(([name, shape]) => ({
    name,
    shape,
    type: storageType(shape, type),
    data: weights[name]!,
  }));
  return writeGguf({ metadata, tensors });
}
