/**
 * llama.cpp (`llama_vocab::impl::load`) treats some tokens as control tokens by their text even when the GGUF types
 * them normal ("control-looking token … its type will be overridden"): end-of-turn, end-of-message, fill-in-the-middle
 * and end-of-generation markers. A control token is cut out of the text only with parseSpecial, and decodes to nothing
 * unless special tokens are unparsed, so this changes ids and text. Lists as in the llama.cpp that node-llama-cpp
 * 3.21.1 bundles.
 */

/** Roles whose token llama.cpp looks up by text only when the GGUF does not give its id. */
export type SpecialRole = 'eot' | 'eom' | 'fimPre' | 'fimSuf' | 'fimMid' | 'fimPad' | 'fimRep' | 'fimSep';

/** The GGUF keys that give each role's id (llama.cpp reads the legacy prefix/suffix/middle keys for FIM too). */
export const SPECIAL_ROLE_KEYS: Readonly<Record<SpecialRole, readonly string[]>> = {
  eot: ['tokenizer.ggml.eot_token_id'],
  eom: ['tokenizer.ggml.eom_token_id'],
  fimPre: ['tokenizer.ggml.fim_pre_token_id', 'tokenizer.ggml.prefix_token_id'],
  fimSuf: ['tokenizer.ggml.fim_suf_token_id', 'tokenizer.ggml.suffix_token_id'],
  fimMid: ['tokenizer.ggml.fim_mid_token_id', 'tokenizer.ggml.middle_token_id'],
  fimPad: ['tokenizer.ggml.fim_pad_token_id'],
  fimRep: ['tokenizer.ggml.fim_rep_token_id'],
  fimSep: ['tokenizer.ggml.fim_sep_token_id'],
};

const ROLE_TEXTS: Readonly<Record<SpecialRole, readonly string[]>> = {
  eot: [
    '<|eot_id|>',
    '<|im_end|>',
    '<|end|>',
    '<end_of_turn>',
    '<|endoftext|>',
    '<|end_of_text|>',
    '<EOT>',
    '_<EOT>',
    '[EOT]',
    '<｜end▁of▁sentence｜>',
    '<end_of_utterance>',
  ],
  eom: ['<|eom_id|>'],
  fimPre: ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>'],
  fimSuf: ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>'],
  fimMid: ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>'],
  fimPad: ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'],
  fimRep: ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'],
  fimSep: ['<|file_sep|>'],
};

/** End-of-generation texts: made control whatever the GGUF declares. */
const END_OF_GENERATION_TEXTS = [
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<|return|>',
  '<|call|>',
  '<|flush|>',
  '<|calls|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '</s>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '[EOS]',
  '<|end_of_text|>',
  '<end_of_utterance>',
  '<eos>',
  '<turn|>',
  '<|tool_response>',
  '<｜end▁of▁sentence｜>',
  '[e~[',
];

/** Texts llama.cpp always makes user-defined (gpt-oss), dropping any other type. */
export const FORCED_USER_DEFINED_TEXTS: ReadonlySet<string> = new Set(['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>']);

/**
 * The token texts llama.cpp makes control, given which roles the GGUF declares an id for.
 * llama.cpp takes only the first match per undeclared role in its hash map's order; a vocabulary with two candidates
 * for one role (rare) may differ there.
 */
export function controlTextsFor(declared: ReadonlySet<SpecialRole>): Set<string> {
  const texts = new Set(END_OF_GENERATION_TEXTS);
  for (const role of Object.keys(ROLE_TEXTS) as SpecialRole[]) {
    if (!declared.has(role)) for (const text of ROLE_TEXTS[role]) texts.add(text);
  }
  return texts;
}
