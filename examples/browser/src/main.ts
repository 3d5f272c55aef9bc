/** The page: buttons, cards and charts; all GPU work happens in worker.ts. */
import { drawChart, type Series } from './chart.js';
import { setUpLmPanel } from './lm-panel.js';
import { setUpPlanner } from './planner.js';
import type { FromWorker, Phase, ToWorker } from './protocol.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const percent = (v: number) => `${(v * 100).toFixed(2)}%`;
const params = new URLSearchParams(location.search);

const state = {
  loss: { teacher: [] as Array<[number, number]>, student: [] as Array<[number, number]> },
  error: { teacher: [] as Array<[number, number]>, student: [] as Array<[number, number]> },
  results: {} as Partial<Record<Phase, number>>,
};
let worker: Worker | undefined;
let redraw = 0;

function showAlert(text: string | undefined): void {
  $('alert').hidden = !text;
  $('alert').textContent = text ?? '';
}

function draw(): void {
  redraw = 0;
  const series = (data: typeof state.loss): Series[] => [
    { name: 'teacher', color: '#3056d3', points: data.teacher },
    { name: 'student (KD)', color: '#d9822b', points: data.student },
  ];
  drawChart($<HTMLCanvasElement>('loss-chart'), series(state.loss), { yLabel: 'step' });
  drawChart($<HTMLCanvasElement>('error-chart'), series(state.error), { yLabel: 'epoch', percent: true });
}
const scheduleDraw = () => (redraw ||= requestAnimationFrame(draw));

function setRunning(running: boolean): void {
  $<HTMLButtonElement>('start').disabled = running;
  $<HTMLButtonElement>('stop').disabled = !running;
  document.body.dataset.state = running ? 'running' : 'idle';
}

function onMessage(message: FromWorker): void {
  switch (message.type) {
    case 'adapter':
      $('adapter').textContent = `${message.name}${message.fallback ? ' (software)' : ''}`;
      break;
    case 'data':
      $('data-rows').textContent = `${message.train} / ${message.test}`;
      break;
    case 'step':
      // Thin long runs out so the chart stays cheap to draw.
      if (message.step % Math.max(1, Math.floor(message.totalSteps / 400)) === 0 || message.step === message.totalSteps)
        state.loss[message.phase].push([message.step, message.loss]);
      $('status').textContent = `${message.phase}: step ${message.step} / ${message.totalSteps}, loss ${message.loss.toFixed(4)}`;
      scheduleDraw();
      break;
    case 'epoch':
      state.error[message.phase].push([message.epoch + 1, message.testError]);
      scheduleDraw();
      break;
    case 'finished':
      state.results[message.phase] = message.testError;
      $(`${message.phase}-error`).textContent = percent(message.testError);
      $(`${message.phase}-info`).textContent = message.steps
        ? `test error after ${message.steps} steps in ${message.seconds.toFixed(1)} s`
        : 'test error (loaded from file)';
      if (message.phase === 'student') $<HTMLButtonElement>('download').disabled = false;
      break;
    case 'done':
      setRunning(false);
      $('status').textContent = message.stopped
        ? 'Stopped.'
        : `Done: the student (784-64-10) reaches ${percent(state.results.student ?? NaN)} test error vs the teacher's ${percent(state.results.teacher ?? NaN)}.`;
      document.body.dataset.done = message.stopped ? 'stopped' : 'finished';
      break;
    case 'student': {
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([message.bytes], { type: 'application/octet-stream' }));
      link.download = message.name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      break;
    }
    case 'error':
      // DistilleryError messages already start with their code.
      showAlert(message.message.startsWith(`${message.code}:`) ? message.message : `${message.code}: ${message.message}`);
      document.body.dataset.error = message.code;
      break;
  }
}

async function start(): Promise<void> {
  showAlert(undefined);
  if (!('gpu' in navigator)) {
    // Same help as E_NO_ADAPTER from @distillery/webgpu, before a worker is even started.
    const { browserNoAdapterHelp } = await import('./no-gpu.js');
    showAlert(`E_NO_ADAPTER: ${browserNoAdapterHelp()}`);
    document.body.dataset.error = 'E_NO_ADAPTER';
    return;
  }
  state.loss = { teacher: [], student: [] };
  state.error = { teacher: [], student: [] };
  state.results = {};
  for (const phase of ['teacher', 'student']) $(`${phase}-error`).textContent = '–';
  $<HTMLButtonElement>('download').disabled = true;
  delete document.body.dataset.done;
  scheduleDraw();
  worker?.terminate();
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (event: MessageEvent<FromWorker>) => onMessage(event.data);
  worker.onerror = (event) => {
    showAlert(`The training worker failed: ${event.message}`);
    setRunning(false);
  };
  const quick = $<HTMLInputElement>('quick').checked;
  const file = $<HTMLInputElement>('teacher-file').files?.[0];
  const message: ToWorker = {
    type: 'start',
    settings: {
      quick,
      temperature: Number($<HTMLInputElement>('temperature').value) || 3,
      teacherEpochs: quick ? 2 : 8,
      studentEpochs: quick ? 2 : 10,
    },
    teacherFile: file ? await file.arrayBuffer() : undefined,
  };
  setRunning(true);
  $('status').textContent = 'Loading digits and compiling kernels…';
  worker.postMessage(message, message.teacherFile ? [message.teacherFile] : []);
}

$('start').addEventListener('click', () => void start());
$('stop').addEventListener('click', () => {
  $('status').textContent = 'Stopping after this step…';
  worker?.postMessage({ type: 'stop' } satisfies ToWorker);
});
$('download').addEventListener('click', () => worker?.postMessage({ type: 'download' } satisfies ToWorker));
$<HTMLInputElement>('quick').checked = params.has('quick');
setUpPlanner();
setUpLmPanel({ quick: params.has('quick'), autostart: params.get('autostart') === 'lm' });
draw();
if (!window.isSecureContext)
  showAlert(
    `This page is not a secure context (${location.origin}): browsers only offer WebGPU over https:// or on localhost / 127.0.0.1.`,
  );
if (params.has('autostart') && params.get('autostart') !== 'lm') void start();
