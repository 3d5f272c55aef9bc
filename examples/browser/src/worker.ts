/**
 * The training worker: WebGPU lives here so the page never freezes. It trains a teacher MLP on the
 * digits (or loads one from a file), then distils it into a small student, posting every step's
 * loss and every epoch's test error.
 */
import { constant, cosine, isDistilleryError } from '@distillery/core';
import { CrossEntropyLoss, KdLoss } from '@distillery/kernels';
import { AdamW, decodeModelState, encodeModelState, MlpClassifier } from '@distillery/nn';
import { ModelTeacher, WhiteBoxDistiller, type ClassificationData } from '@distillery/white-box';
import { loadDigits } from './mnist.js';
import { acquireWorkerDevice } from './worker-device.js';
import type { FromWorker, Phase, RunSettings, ToWorker } from './protocol.js';

const post = (message: FromWorker, transfer: Transferable[] = []) =>
  (self as unknown as { postMessage(m: FromWorker, t: Transferable[]): void }).postMessage(message, transfer);

let current: WhiteBoxDistiller | undefined;
let stopRequested = false;
let student: MlpClassifier | undefined;
let lostReason: () => string | undefined = () => undefined;

async function train(phase: Phase, distiller: WhiteBoxDistiller, test: ClassificationData): Promise<number> {
  current = distiller;
  distiller.loop.on('step', (e) => post({ type: 'step', phase, step: e.step, totalSteps: distiller.loop.totalSteps, loss: e.loss }));
  distiller.loop.on('evaluation', (e) =>
    post({ type: 'epoch', phase, epoch: e.epoch, testError: Number((e.metrics as { error?: number }).error ?? NaN) }),
  );
  const started = performance.now();
  await distiller.run({ resume: false });
  current = undefined;
  const { error } = await distiller.evaluate(test);
  post({ type: 'finished', phase, testError: error, seconds: (performance.now() - started) / 1000, steps: distiller.loop.totalSteps });
  return error;
}

async function start(settings: RunSettings, teacherFile?: ArrayBuffer): Promise<void> {
  stopRequested = false;
  const { device, lostReason: lost } = await acquireWorkerDevice('distillery-page', post);
  lostReason = lost;
  const { train: trainSet, test } = await loadDigits({ perClass: settings.quick ? 150 : 250 });
  post({ type: 'data', train: trainSet.rows, test: test.rows });
  const lr = 3e-3;
  let teacher: MlpClassifier;
  if (teacherFile) {
    teacher = await MlpClassifier.fromState(device, decodeModelState(new Uint8Array(teacherFile), 'teacher file'));
    const { error } = await new WhiteBoxDistiller({
      student: teacher,
      loss: new CrossEntropyLoss(),
      optimizer: new AdamW(),
      train: trainSet,
      batchSize: 100,
      epochs: 1,
      seed: 0,
      schedules: { lr: constant(0) },
    }).evaluate(test);
    post({ type: 'finished', phase: 'teacher', testError: error, seconds: 0, steps: 0 });
  } else {
    teacher = MlpClassifier.create(device, {
      inputSize: 784,
      hidden: settings.quick ? [256] : [512, 512],
      classes: 10,
      dropout: 0.3,
      inputJitter: 0.1,
      seed: 1,
    });
    await train(
      'teacher',
      new WhiteBoxDistiller({
        student: teacher,
        loss: new CrossEntropyLoss(),
        optimizer: new AdamW({ weightDecay: 0 }),
        train: trainSet,
        validation: test,
        batchSize: 100,
        epochs: settings.teacherEpochs,
        seed: 1,
        schedules: { lr: cosine({ from: lr, to: lr / 20 }) },
      }),
      test,
    );
  }
  if (stopRequested) return post({ type: 'done', stopped: true });
  student = MlpClassifier.create(device, { inputSize: 784, hidden: [64], classes: 10, seed: 2 });
  await train(
    'student',
    new WhiteBoxDistiller({
      teacher: new ModelTeacher(teacher, 'mnist-teacher'),
      student,
      loss: new KdLoss({ divergence: 'forward-kl' }),
      optimizer: new AdamW({ weightDecay: 0 }),
      train: trainSet,
      validation: test,
      batchSize: 100,
      epochs: settings.studentEpochs,
      seed: 2,
      schedules: {
        lr: cosine({ from: lr, to: lr / 20 }),
        temperature: constant(settings.temperature),
        softWeight: constant(1),
        hardWeight: constant(0.2),
      },
    }),
    test,
  );
  post({ type: 'done', stopped: stopRequested });
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === 'stop') {
    stopRequested = true;
    current?.stop();
  } else if (message.type === 'download') {
    if (!student) return post({ type: 'error', code: 'E_BAD_STATE', message: 'No student yet: start a run first.' });
    void student.saveState().then((state) => {
      const bytes = encodeModelState(state);
      post({ type: 'student', bytes: bytes.buffer as ArrayBuffer, name: 'mnist-student.safetensors' }, [bytes.buffer as ArrayBuffer]);
    });
  } else if (message.type === 'start') {
    start(message.settings, message.teacherFile).catch((error: unknown) => {
      const code = isDistilleryError(error) ? error.code : lostReason() ? 'E_DEVICE_LOST' : 'E_UNEXPECTED';
      post({ type: 'error', code, message: (error as Error).message });
      post({ type: 'done', stopped: true });
    });
  }
};
