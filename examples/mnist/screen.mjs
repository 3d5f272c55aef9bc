// Screens MNIST distillation settings in one process (the library calls `distillery demo` makes):
// per seed, one teacher (saved and reused across runs of this script), one scratch student per
// (data, epochs), then each distilled variant. One JSON line per trained model on stdout and in
// the results file. Not part of the product; see docs/getting-started.md for what it found.
//
//   node examples/mnist/screen.mjs plan.json [results.jsonl]
//
// plan.json: { "seeds": [1000, 1001, 1002], "teacher": { "hidden": [512, 512], "dropout": 0.5,
//   "inputJitter": 0.2, "epochs": 40, "trainPerClass": 800 }, "student": { "hidden": [256, 256],
//   "trainPerClass": 100, "epochs": 25 }, "variants": [{ "temperature": 3, "hardWeight": 0.2 }],
//   "pruneBelow": 0.2 }   (pruneBelow: a variant whose recovered share on a seed is below it is dropped)
import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnist } from '@distillery/cli';
import { cosine } from '@distillery/core';
import { MlpClassifier } from '@distillery/nn';
import { loadModel, saveModel } from '@distillery/nn/node';
import { acquireDevice } from '@distillery/webgpu';
import { CachedTeacher, ModelTeacher, distill, evaluateClassifier, uploadBatch } from '@distillery/white-box';
import { buildTeacherCache, TeacherCacheReader } from '@distillery/white-box/node';

const plan = JSON.parse(await readFile(process.argv[2], 'utf8'));
const resultsFile = process.argv[3] ?? join(tmpdir(), 'distillery-screen.jsonl');
const store = join(tmpdir(), 'distillery-screen');
await mkdir(store, { recursive: true });
const { device } = await acquireDevice({ label: 'screen' });
const lr = plan.lr ?? 3e-3;
const batchSize = plan.batchSize ?? 100;

async function emit(row) {
  const line = JSON.stringify(row);
  console.log(line);
  await appendFile(resultsFile, `${line}\n`);
}

const t = plan.teacher;
const s = plan.student;
const teacherKey = `t-${t.hidden.join('x')}-d${t.dropout}-j${t.inputJitter}-e${t.epochs}-n${t.trainPerClass ?? 'all'}`;
let variants = plan.variants.map((v) => ({ ...v, recovered: [] }));
for (const seed of plan.seeds) {
  const teacherData = await loadMnist(undefined, { trainPerClass: t.trainPerClass });
  const studentData = await loadMnist(undefined, { trainPerClass: s.trainPerClass });
  const test = studentData.test;
  const teacherFile = join(store, `${teacherKey}-s${seed}.safetensors`);
  let teacher = await loadModel(device, teacherFile).catch(() => undefined);
  let started = performance.now();
  if (!teacher) {
    teacher = MlpClassifier.create(device, {
      inputSize: 784,
      classes: 10,
      hidden: t.hidden,
      dropout: t.dropout,
      inputJitter: t.inputJitter,
      seed,
    });
    await distill({
      student: teacher,
      data: { train: teacherData.train },
      epochs: t.epochs,
      batchSize,
      seed,
      lr: cosine({ from: lr, to: lr / 20 }),
      resume: false,
    });
    await saveModel(teacherFile, teacher);
  }
  const teacherError = (await evaluateClassifier(teacher, test)).error;
  await emit({ seed, model: 'teacher', key: teacherKey, error: teacherError, seconds: (performance.now() - started) / 1000 });

  const cacheDir = await mkdtemp(join(tmpdir(), 'screen-cache-'));
  await buildTeacherCache({
    dir: cacheDir,
    teacher: new ModelTeacher(teacher, `teacher-${seed}`),
    rows: studentData.train.rows,
    batchOf: async (ids) => uploadBatch(device, studentData.train, ids, false),
    kind: 'dense',
    batchSize: 500,
  });
  const cached = new CachedTeacher(await TeacherCacheReader.open(cacheDir), device);
  const student = () => MlpClassifier.create(device, { inputSize: 784, classes: 10, hidden: s.hidden, seed: seed + 7 });

  const scratchEpochs = [...new Set(variants.map((v) => v.epochs ?? s.epochs))];
  const scratch = {};
  for (const epochs of scratchEpochs) {
    const key = `scratch-${s.hidden.join('x')}-n${s.trainPerClass ?? 'all'}-e${epochs}-s${seed}`;
    const prior = (await readFile(resultsFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((r) => r.key === key);
    if (prior) {
      scratch[epochs] = prior.error;
      continue;
    }
    started = performance.now();
    const model = student();
    await distill({
      student: model,
      data: { train: studentData.train },
      epochs,
      batchSize,
      seed,
      lr: cosine({ from: lr, to: lr / 20 }),
      resume: false,
    });
    scratch[epochs] = (await evaluateClassifier(model, test)).error;
    await emit({ seed, model: 'scratch', key, error: scratch[epochs], seconds: (performance.now() - started) / 1000 });
  }
  for (const v of variants) {
    const epochs = v.epochs ?? s.epochs;
    started = performance.now();
    const model = student();
    await distill({
      teacher: cached,
      student: model,
      data: { train: studentData.train },
      useLabels: (v.hardWeight ?? 0) > 0,
      epochs,
      batchSize,
      seed,
      lr: cosine({ from: lr, to: lr / 20 }),
      temperature: v.temperature,
      softWeight: v.softWeight ?? 1,
      hardWeight: v.hardWeight ?? 0,
      resume: false,
    });
    const error = (await evaluateClassifier(model, test)).error;
    const recovered = (scratch[epochs] - error) / (scratch[epochs] - teacherError);
    v.recovered.push(recovered);
    await emit({
      seed,
      model: 'distilled',
      teacher: teacherKey,
      student: `${s.hidden.join('x')}-n${s.trainPerClass ?? 'all'}`,
      temperature: v.temperature,
      hardWeight: v.hardWeight ?? 0,
      epochs,
      teacherError,
      scratchError: scratch[epochs],
      error,
      recovered,
      seconds: (performance.now() - started) / 1000,
    });
  }
  await rm(cacheDir, { recursive: true, force: true });
  const kept = variants.filter((v) => v.recovered.at(-1) >= (plan.pruneBelow ?? -Infinity));
  for (const v of variants.filter((x) => !kept.includes(x))) await emit({ pruned: { ...v } });
  variants = kept;
  if (variants.length === 0) break;
}
device.destroy();
