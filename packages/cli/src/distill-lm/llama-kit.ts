import { basename } from 'node:path';
import type { ModelState } from '@distillery/core';
import { LlamaLm, llamaStudentConfig } from '@distillery/nn';
import type { StudentSize } from './config.js';
import type { LmKit, LmModel } from './kit.js';
import { readLlamaVocabulary } from './vocabulary.js';

/**
 * The Llama kit: the teacher GGUF on WebGPU (`LlamaLm.fromGguf`), its tokenizer (`LlamaTokenizer`,
 * llama.cpp's ids), and students that are smaller Llamas sharing the teacher's vocabulary, RoPE base
 * and RMSNorm ε, written back as GGUF with the teacher's tokenizer.
 */
export async function createLlamaKit(device: GPUDevice, teacherPath: string, context: number): Promise<LmKit> {
  const { file, tokenizer } = await readLlamaVocabulary(teacherPath);
  const teacher = LlamaLm.fromGguf(device, file, { context });
  const t = teacher.settings;
  const bos = tokenizer.bosTokenId ?? t.bosToken;
  const eos = tokenizer.eosTokenId ?? t.eosToken;
  const teacherName = basename(teacherPath).replace(/\.gguf$/i, '');
  const student = (config: Parameters<typeof LlamaLm.create>[1]) => LlamaLm.create(device, config) as LmModel & LlamaLm;
  return {
    teacherName,
    teacher: teacher as LmModel & LlamaLm,
    vocab: t.vocab,
    bos,
    eos,
    teacherFacts: {
      parameters: teacher.parameterCount,
      width: t.width,
      layers: t.layers,
      heads: t.heads,
      kvHeads: t.kvHeads,
      ffn: t.ffn,
      vocab: t.vocab,
    },
    encode: (text) => tokenizer.encode(text, { addBos: true }),
    decode: (ids) => tokenizer.decode(ids),
    createStudent: (size: StudentSize, seed: number) => student(llamaStudentConfig(t, size, { context, seed })),
    studentFromState: async (state: ModelState) => (await LlamaLm.fromState(device, state)) as LmModel & LlamaLm,
    toGguf: (model) => (model as unknown as LlamaLm).toGguf({ tokenizerFrom: file, name: `${teacherName}-student` }),
    toHuggingFace: async (model) => ({ ...(await (model as unknown as LlamaLm).toHuggingFace()) }),
    dispose: () => teacher.release(),
  };
}
