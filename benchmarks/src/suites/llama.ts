import { readFile } from 'node:fs/promises';
import { splitStories } from '@distillery/data-tinystories';
import { corpusPath, modelPath } from '@distillery/data-tinystories/node';
import { LlamaTokenizer, parseGguf } from '@distillery/gguf';
import { KdLoss } from '@distillery/kernels';
import { AdamW, LlamaLm } from '@distillery/nn';
import { uploadTensor } from '@distillery/webgpu';
import { recordResult, type BenchContext, type BenchResult, type BenchSuite } from '../suite.js';
import { summarize, timeHost } from '../timing.js';
import { withHeld } from '../held.js';

/** `sequences` windows of `context` tokens from the start of TinyStories stories (BOS first). */
async function storyWindows(tokenizer: LlamaTokenizer, sequences: number, context: number): Promise<number[][]> {
  const stories = splitStories(await readFile(corpusPath(), 'utf8'));
  const windows: number[][] = [];
  for (const story of stories) {
    const ids = tokenizer.encode(story, { addBos: true });
    if (ids.length >= context) windows.push(ids.slice(0, context));
    if (windows.length === sequences) return windows;
  }
  throw new Error(`fewer than ${sequences} stories of ${context} tokens`);
}

type LlamaCppTeacher = import('@distillery/plugin-teacher-llama-cpp').LlamaCppTeacher;

/** node-llama-cpp (CPU) over the same windows, teacher-forced, every position's distribution: what a top-k cache build pays. */
async function llamaCppBaseline(
  ctx: BenchContext,
  windows: number[][],
  threads: number,
  runs: number,
): Promise<{ ms: ReturnType<typeof summarize>; tokensPerSecond: number } | string> {
  let teacher: LlamaCppTeacher | undefined;
  try {
    const { LlamaCppTeacher } = await import('@distillery/plugin-teacher-llama-cpp');
    teacher = await LlamaCppTeacher.load({ modelPath: modelPath(), threads, contextSize: windows[0]!.length });
    if (teacher.threads !== threads) return `only ${teacher.threads} core(s)`;
    const t = teacher;
    // On a busy 2-core machine a 2-thread call can take minutes (threads wait on each other): a
    // first call over 30 s is the only sample.
    const started = performance.now();
    await t.topK(windows, 1);
    const first = performance.now() - started;
    const ms = first > 30_000 ? summarize([first]) : await timeHost(() => t.topK(windows, 1), { warmup: 0, runs });
    const tokens = windows.reduce((n, w) => n + w.length, 0);
    return { ms, tokensPerSecond: (tokens * 1000) / ms.median };
  } catch (error) {
    ctx.log(`llama.cpp with ${threads} thread(s) unavailable: ${(error as Error).message}`);
    return (error as Error).message;
  } finally {
    await teacher?.dispose();
  }
}

export const llamaSuite: BenchSuite = {
  name: 'llama',
  description:
    'stories260K (Llama, GGUF): teacher forward tokens/s on WebGPU vs node-llama-cpp on the CPU (1 and 2 threads), and the whole KD training step of a Llama student',
  needsGpu: true,
  async run(ctx) {
    const device = ctx.device!;
    const file = parseGguf(new Uint8Array(await readFile(modelPath())), { source: modelPath() });
    const tokenizer = LlamaTokenizer.fromGguf(file);
    const [sequences, context] = ctx.quick ? [2, 64] : [8, 128];
    const runs = ctx.quick ? 2 : 5;
    const windows = await storyWindows(tokenizer, sequences, context);
    const rows = sequences * context;
    // Everything the suite allocates is released when it ends, returned or thrown (a failed
    // llama run must not leave its models on the device for the suites after it).
    return withHeld(async (hold) => {
      const teacher = hold(LlamaLm.fromGguf(device, file, { context }));
      const tokens = hold(uploadTensor(device, { shape: [rows], dtype: 'i32', data: Int32Array.from(windows.flat()) }, 'bench-tokens'));
      const labels = hold(
        uploadTensor(
          device,
          { shape: [rows], dtype: 'i32', data: Int32Array.from(windows.flatMap((w) => [...w.slice(1), -100])) },
          'bench-labels',
        ),
      );
      const batch = { tokens, labels, sequences };
      const results: BenchResult[] = [];

      // Teacher forward: eval-mode logits for every position, wall clock to the GPU's completion.
      const forwardMs = await timeHost(
        async () => {
          await teacher.forward(batch, { training: false });
          await device.queue.onSubmittedWorkDone();
        },
        { warmup: 1, runs },
      );
      const forward: BenchResult = {
        suite: 'llama',
        name: 'teacher-forward',
        params: { model: 'stories260K', sequences, context, tokens: rows },
        ms: forwardMs,
        metrics: { tokensPerSecond: (rows * 1000) / forwardMs.median, parameters: teacher.parameterCount },
        baselines: {},
      };
      // Quick (CI) runs skip 2 threads: on a busy 2-core machine one call can take seconds.
      for (const threads of ctx.quick ? [1] : [1, 2]) {
        const base = await llamaCppBaseline(ctx, windows, threads, runs);
        if (typeof base === 'string') continue;
        forward.baselines![`llama.cpp-cpu-${threads}t`] = { ms: base.ms, tokensPerSecond: base.tokensPerSecond };
        forward.metrics![`llamaCpp${threads}tTokensPerSecond`] = base.tokensPerSecond;
      }
      results.push(recordResult(ctx, forward));
      ctx.log(
        `teacher forward: ${forward.metrics!.tokensPerSecond!.toFixed(0)} tokens/s on WebGPU; llama.cpp ${[1, 2].map((t) => `${t}t ${forward.metrics![`llamaCpp${t}tTokensPerSecond`]?.toFixed(0) ?? '-'}`).join(', ')} tokens/s`,
      );

      // The whole KD step of a student: teacher forward + student forward/backward + fused KD loss + AdamW.
      const student = hold(
        LlamaLm.create(device, {
          vocab: teacher.vocabSize,
          width: 32,
          layers: 2,
          heads: 4,
          kvHeads: 2,
          ffn: 86,
          context,
          seed: 1,
        }),
      );
      const loss = new KdLoss({ divergence: 'forward-kl', temperature: 2, hardWeight: 0.5 });
      const optimizer = hold(new AdamW({ weightDecay: 0.01, clipNorm: 1 }));
      // KdLoss frees each step's outputs at the next step; the last step's go with the case.
      let lastOutputs: { release(): void } | undefined;
      hold({ release: () => lastOutputs?.release() });
      const stepMs = await timeHost(
        async () => {
          const targets = await teacher.forward(batch, { training: false });
          const logits = await student.forward(batch, { training: true });
          const out = await loss.compute({ studentLogits: logits, targets: { kind: 'dense', logits: targets }, labels, hyper: {} });
          lastOutputs = out;
          student.zeroGrad();
          await student.backward(out.gradLogits);
          await out.total();
          await optimizer.step(student.parameters(), 1e-3);
        },
        { warmup: 1, runs },
      );
      results.push(
        recordResult(ctx, {
          suite: 'llama',
          name: 'kd-train-step',
          params: { teacher: 'stories260K', student: 'w32-l2 (4 heads, 2 kv)', sequences, context, loss: 'forward KL T=2 + 0.5 hard' },
          ms: stepMs,
          metrics: { tokensPerSecond: (rows * 1000) / stepMs.median, studentParameters: student.parameterCount },
        }),
      );
      ctx.log(`KD step: ${stepMs.median.toFixed(0)} ms, ${((rows * 1000) / stepMs.median).toFixed(0)} tokens/s`);
      return results;
    });
  },
};
