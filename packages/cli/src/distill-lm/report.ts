import { relative } from 'node:path';
import type { DistillLmReport, MethodSummary } from './experiment.js';

const pm = (s: { mean: number; std: number }, digits = 3, scale = 1) =>
  `${(s.mean * scale).toFixed(digits)} ± ${(s.std * scale).toFixed(digits)}`;

const METHOD_LABEL: Record<string, string> = {
  scratch: 'scratch (hard CE)',
  kd: 'KD, in-process WebGPU teacher',
  'kd-topk-cache': 'KD, llama.cpp top-k cache',
  'kd-hidden': 'KD + hidden-state match',
};

function settingsLine(r: DistillLmReport): string {
  const s = r.settings;
  return `${s.steps} steps × ${s.sequences} windows × ${s.context} tokens per run; AdamW lr ${s.optimizer.lr} (warm-up ${s.optimizer.warmupSteps}, cosine to ×${s.optimizer.finalLrFraction}); KD: forward KL at T = ${s.kd.temperature}, soft 1 + hard ${s.kd.hardWeight}; top-k cache k = ${s.topk.k}; hidden: ${s.hidden.student} → ${s.hidden.teacher} (${s.hidden.loss}, weight ${s.hidden.weight}, learned projection); seeds ${s.seeds.join(', ')}`;
}

/** The comparison as plain text lines (the command's output). */
export function formatReportText(r: DistillLmReport): string {
  const lines = [
    `teacher ${r.teacher.name}: ${r.teacher.heldOut.nats.toFixed(4)} nats/token on ${r.corpus.heldOutTokens} held-out tokens (${r.corpus.heldOutStories} stories; ${r.corpus.note})`,
    `train: ${r.corpus.trainStories} stories, ${r.corpus.trainTokens} tokens; ${settingsLine(r)}; adapter ${r.adapter}`,
    ...(r.cache ? [`top-k cache: ${r.cache.rows} rows, k = ${r.cache.k}, built by llama.cpp in ${r.cache.seconds.toFixed(1)} s`] : []),
    '',
    `${'size'.padEnd(8)} ${'params'.padStart(7)} ${'method'.padEnd(14)} ${'nats/token'.padStart(16)} ${'agreement %'.padStart(14)} ${'s/run'.padStart(6)} ${'tok/s'.padStart(6)}`,
    ...r.summary.map(
      (m) =>
        `${m.size.padEnd(8)} ${String(m.parameters).padStart(7)} ${m.method.padEnd(14)} ${pm(m.nats, 4).padStart(16)} ${pm(m.agreement, 1, 100).padStart(14)} ${m.seconds.mean.toFixed(0).padStart(6)} ${(m.tokensPerSecond.values.length ? m.tokensPerSecond.mean.toFixed(0) : '-').padStart(6)}`,
    ),
  ];
  for (const e of r.exports) {
    lines.push(`exported ${e.size}/${e.method}/seed-${e.seed}: ${e.gguf ?? '-'}${e.huggingFace ? ` and ${e.huggingFace}/` : ''}`);
    if (e.check)
      lines.push(
        `  node-llama-cpp: max |Δ log p| ${e.check.maxAbsLogprobDiff.toExponential(2)} over ${e.check.positions} positions (top ${e.check.topK}); greedy text ${e.check.sameText ? 'identical' : 'differs'}: ${JSON.stringify(e.check.llamaCppText)}`,
      );
  }
  return `${lines.join('\n')}\n`;
}

function deltaVsScratch(r: DistillLmReport, m: MethodSummary): string {
  const base = r.summary.find((x) => x.size === m.size && x.method === 'scratch');
  if (!base || m.method === 'scratch') return '';
  const diffs = m.nats.values.map((v, i) => v - (base.nats.values[i] ?? Number.NaN));
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  return `${mean >= 0 ? '+' : '−'}${Math.abs(mean).toFixed(3)} (lower on ${diffs.filter((d) => d < 0).length}/${diffs.length})`;
}

/** results.md: the table, the teacher's reference, samples and the settings. */
export function formatReportMarkdown(r: DistillLmReport): string {
  const out: string[] = [];
  out.push(`# distill-lm: ${r.teacher.name} → smaller Llamas on TinyStories${r.quick ? ' (--quick: a smoke run, not a result)' : ''}`, '');
  out.push(`Adapter: ${r.adapter}. ${settingsLine(r)}.`, '');
  out.push(
    `Training text: ${r.corpus.trainStories} stories (${r.corpus.trainTokens.toLocaleString('en-US')} tokens); held out: ${r.corpus.heldOutStories} stories (${r.corpus.heldOutTokens.toLocaleString('en-US')} predicted tokens). ${r.corpus.note}`,
    '',
  );
  out.push(
    '| student | parameters | method | held-out nats/token (mean ± std) | Δ vs scratch (seeds lower) | top-1 agreement with teacher | train time / run (s) | train tokens/s |',
  );
  out.push('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  out.push(
    `| teacher ${r.teacher.name} | ${Number(r.teacher.facts.parameters ?? 0).toLocaleString('en-US')} | (reference) | ${r.teacher.heldOut.nats.toFixed(4)} | | 100 % | | |`,
  );
  for (const m of r.summary) {
    out.push(
      `| ${m.size} | ${m.parameters.toLocaleString('en-US')} | ${METHOD_LABEL[m.method] ?? m.method} | ${pm(m.nats, 4)} | ${deltaVsScratch(r, m)} | ${pm(m.agreement, 1, 100)} % | ${m.seconds.mean.toFixed(0)} | ${m.tokensPerSecond.values.length ? m.tokensPerSecond.mean.toFixed(0) : '–'} |`,
    );
  }
  out.push(
    '',
    `Over ${r.settings.seeds.length} seed(s) (std: sample standard deviation over seeds; Δ: mean per-seed difference to the scratch run of the same seed and size, negative is better, with the number of seeds where the method's nats/token were lower).`,
  );
  if (r.cache)
    out.push(
      `The top-k cache (${r.cache.rows.toLocaleString('en-US')} positions, k = ${r.cache.k}) was built once by llama.cpp on the CPU in ${r.cache.seconds.toFixed(0)} s and shared by every kd-topk-cache run; that time is not in the runs' training time.`,
    );
  out.push('', '## Samples (greedy, first seed)', '', `Teacher: ${JSON.stringify(r.teacher.sample)}`, '');
  for (const m of r.summary) out.push(`- ${m.size}, ${m.method}: ${JSON.stringify(m.sample)}`);
  if (r.exports.length) {
    out.push('', '## Exported students', '');
    for (const e of r.exports) {
      const inOutput = (p: string) => relative(r.output, p);
      out.push(
        `- ${e.size}/${e.method}/seed-${e.seed}: \`${e.gguf ? inOutput(e.gguf) : '-'}\`${e.huggingFace ? `, \`${inOutput(e.huggingFace)}/\`` : ''} (in the output folder)`,
      );
      if (e.check)
        out.push(
          `  - node-llama-cpp: max |Δ log p| = ${e.check.maxAbsLogprobDiff.toExponential(2)} over ${e.check.positions} positions (its top ${e.check.topK}); greedy text ${e.check.sameText ? 'identical to WebGPU' : 'differs from WebGPU'}: ${JSON.stringify(e.check.llamaCppText)}`,
        );
    }
  }
  return `${out.join('\n')}\n`;
}
