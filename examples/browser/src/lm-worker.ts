/**
 * The TinyStories worker: reads the teacher GGUF (the vendored stories260K, or the user's file),
 * has it write a story, distils a small Llama from it on TinyStories windows posting every step's
 * loss, has the student write the same story, and hands the student out as GGUF.
 */
import { DistilleryError, isDistilleryError } from '@distillery/core';
import { corpusUrl, modelUrl, splitStories } from '@distillery/data-tinystories';
import { LmDistillation, loadTeacher, storiesCorpus, writeStory, type LmRunSettings, type LmTeacher } from './lm/tinystories.js';
import { acquireWorkerDevice } from './worker-device.js';
import type { FromLmWorker, StoryAuthor, ToLmWorker } from './protocol.js';

const post = (message: FromLmWorker, transfer: Transferable[] = []) =>
  (self as unknown as { postMessage(m: FromLmWorker, t: Transferable[]): void }).postMessage(message, transfer);

let run: LmDistillation | undefined;
let stopRequested = false;
let lostReason: () => string | undefined = () => undefined;

async function fetchBytes(url: URL, what: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok)
    throw new DistilleryError('E_NOT_FOUND', `${what} cannot be fetched from ${url.href}: HTTP ${response.status}`, {
      field: 'url',
      value: url.href,
    });
  return new Uint8Array(await response.arrayBuffer());
}

async function story(author: StoryAuthor, teacher: LmTeacher, settings: LmRunSettings): Promise<void> {
  const model = author === 'teacher' ? teacher.model : run!.student;
  const started = performance.now();
  const { ids, text } = await writeStory(model, teacher.tokenizer, settings.prompt, settings.storyTokens);
  post({ type: 'story', author, text, tokens: ids.length, seconds: (performance.now() - started) / 1000 });
}

async function start(settings: LmRunSettings, teacherFile?: { name: string; bytes: ArrayBuffer }): Promise<void> {
  stopRequested = false;
  const { device, lostReason: lost } = await acquireWorkerDevice('distillery-tinystories', post);
  lostReason = lost;
  const [bytes, source] = teacherFile
    ? [new Uint8Array(teacherFile.bytes), teacherFile.name]
    : [await fetchBytes(modelUrl(), 'the teacher model'), 'stories260K.gguf'];
  const teacher = loadTeacher(device, bytes, source, settings.context);
  const t = teacher.model.settings;
  post({ type: 'teacher', name: teacher.name, parameters: teacher.model.parameterCount, layers: t.layers, width: t.width, vocab: t.vocab });
  const text = new TextDecoder().decode(await fetchBytes(corpusUrl(), 'the TinyStories excerpt'));
  const corpus = storiesCorpus(splitStories(text).slice(0, settings.trainStories), teacher.tokenizer);
  post({ type: 'data', stories: corpus.documents.length, tokens: corpus.documents.reduce((n, d) => n + d.length, 0) });
  if (stopRequested) return post({ type: 'done', stopped: true });
  await story('teacher', teacher, settings);
  if (stopRequested) return post({ type: 'done', stopped: true });

  run = new LmDistillation(teacher, corpus, settings);
  post({ type: 'student', parameters: run.student.parameterCount, layers: settings.student.layers, width: settings.student.width });
  const started = performance.now();
  const { steps, stopped } = await run.run((e) => post({ type: 'step', step: e.step, totalSteps: settings.steps, loss: e.loss }));
  post({ type: 'trained', steps, seconds: (performance.now() - started) / 1000, stopped });
  if (!stopped) await story('student', teacher, settings);
  post({ type: 'done', stopped });
}

self.onmessage = (event: MessageEvent<ToLmWorker>) => {
  const message = event.data;
  if (message.type === 'stop') {
    stopRequested = true;
    run?.stop();
  } else if (message.type === 'download') {
    if (!run) return post({ type: 'error', code: 'E_BAD_STATE', message: 'No student yet: start a run first.' });
    const name = `${run.teacher.name}-student.gguf`;
    run.toGguf().then(
      (bytes) => {
        // Transfer exactly the file's bytes (a view may sit inside a larger buffer).
        const buffer = (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice())
          .buffer as ArrayBuffer;
        post({ type: 'gguf', bytes: buffer, name }, [buffer]);
      },
      (error: unknown) =>
        post({ type: 'error', code: isDistilleryError(error) ? error.code : 'E_UNEXPECTED', message: (error as Error).message }),
    );
  } else if (message.type === 'start') {
    start(message.settings, message.teacherFile).catch((error: unknown) => {
      const code = isDistilleryError(error) ? error.code : lostReason() ? 'E_DEVICE_LOST' : 'E_UNEXPECTED';
      post({ type: 'error', code, message: (error as Error).message });
      post({ type: 'done', stopped: true });
    });
  }
};
