import type { StudentSize } from '../distill-lm/config.js';

/** What a student's parameter count depends on besides its own size: the teacher's. */
export interface TeacherShape {
  vocab: number;
  width: number;
  ffn: number;
}

/** The student's SwiGLU width as the Llama kit builds it (the teacher's ratio unless the size sets it). */
export function studentFfn(size: StudentSize, teacher: TeacherShape): number {
  return size.ffn ?? Math.max(1, Math.round((size.width * teacher.ffn) / teacher.width));
}

/**
 * Non-embedding parameters, the N of the scaling laws (Kaplan et al.; Busbridge et al. 2025): every
 * block's RMSNorms, attention (q, k, v, o with grouped k/v) and SwiGLU, and the final RMSNorm.
 * The token embedding and the output head (vocab × width each; untied in stories260K) are excluded.
 */
export function nonEmbeddingParams(size: StudentSize, teacher: TeacherShape): number {
  const w = size.width;
  const headDim = w / size.heads;
  const kv = (size.kvHeads ?? size.heads) * headDim;
  const f = studentFfn(size, teacher);
  const block = 2 * w + 2 * w * w + 2 * w * kv + 3 * w * f;
  return size.layers * block + w;
}

/** Embedding + head parameters: what `nonEmbeddingParams` leaves out (the head is untied). */
export function embeddingParams(size: StudentSize, teacher: TeacherShape, tiedHead = false): number {
  return (tiedHead ? 1 : 2) * teacher.vocab * size.width;
}

/**
 * Training FLOPs by the laws' convention, 6·N·D with N the non-embedding parameters (F(N) = 2N per
 * token forward, 3 F(N) for forward + backward); the teacher's forwards and the head are not in it.
 */
export function trainingFlops(params: number, tokens: number): number {
  return 6 * params * tokens;
}
