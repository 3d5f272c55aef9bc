/** The TinyStories panel: buttons, cards, the loss curve and the two stories; the GPU work is in lm-worker.ts. */
import { corpusLicenseUrl } from '@distillery/data-tinystories/urls';
import { drawChart } from './chart.js';
import { LM_QUICK_SETTINGS, LM_SETTINGS, type LmRunSettings } from './lm/settings.js';
import type { FromLmWorker, ToLmWorker } from './protocol.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const count = (n: number) => n.toLocaleString('en-US');
const panel = () => $('lm');

let worker: Worker | undefined;
let losses: Array<[number, number]> = [];
let redraw = 0;
let startedAt = 0;

function draw(): void {
  redraw = 0;
  drawChart($<HTMLCanvasElement>('lm-loss-chart'), [{ name: 'student (KD)', color: '#d9822b', points: losses }], { yLabel: 'step' });
}
const scheduleDraw = () => (redraw ||= requestAnimationFrame(draw));

function setRunning(running: boolean): void {
  $<HTMLButtonElement>('lm-start').disabled = running;
  $<HTMLButtonElement>('lm-stop').disabled = !running;
  panel().dataset.state = running ? 'running' : 'idle';
}

function showError(code: string, message: string): void {
  const alert = $('alert');
  alert.hidden = false;
  // DistilleryError messages already start with their code.
  alert.textContent = message.startsWith(`${code}:`) ? message : `${code}: ${message}`;
  panel().dataset.error = code;
}

function download(bytes: ArrayBuffer, name: string): void {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

function onMessage(message: FromLmWorker): void {
  switch (message.type) {
    case 'adapter':
      $('adapter').textContent = `${message.name}${message.fallback ? ' (software)' : ''}`;
      break;
    case 'teacher':
      $('lm-teacher-params').textContent = count(message.parameters);
      $('lm-teacher-info').textContent =
        `parameters: ${message.name}, ${message.layers} blocks, width ${message.width}, ${message.vocab} tokens`;
      break;
    case 'student':
      $('lm-student-params').textContent = count(message.parameters);
      $('lm-student-info').textContent = `parameters: ${message.layers} blocks, width ${message.width}, the teacher's tokenizer`;
      startedAt = performance.now();
      break;
    case 'data':
      $('lm-status').textContent = `${count(message.stories)} stories (${count(message.tokens)} tokens); the teacher writes…`;
      break;
    case 'step': {
      losses.push([message.step, message.loss]);
      const perStep = (performance.now() - startedAt) / message.step / 1000;
      $('lm-status').textContent =
        `step ${message.step} / ${message.totalSteps}, loss ${message.loss.toFixed(3)} (${perStep.toFixed(2)} s/step)`;
      $('lm-loss').textContent = `${losses[0]![1].toFixed(2)} → ${message.loss.toFixed(2)}`;
      panel().dataset.steps = String(message.step);
      scheduleDraw();
      break;
    }
    case 'trained':
      // Every step's loss, for the browser test and for anyone inspecting the page.
      $('lm-loss-chart').dataset.losses = JSON.stringify(losses.map(([, loss]) => loss));
      $('lm-loss-info').textContent =
        `KD loss, first → last of ${message.steps} steps in ${message.seconds.toFixed(1)} s (${(message.seconds / Math.max(1, message.steps)).toFixed(2)} s/step)`;
      $<HTMLButtonElement>('lm-download').disabled = message.steps === 0;
      if (!message.stopped) $('lm-status').textContent = 'The student writes…';
      break;
    case 'story':
      $(`lm-${message.author}-story`).textContent = message.text;
      $(`lm-${message.author}-story-info`).textContent = `(${message.tokens} tokens, greedy, ${message.seconds.toFixed(1)} s)`;
      if (message.author === 'teacher') $('lm-status').textContent = 'Distilling…';
      break;
    case 'done':
      setRunning(false);
      $('lm-status').textContent = message.stopped ? 'Stopped.' : `Done: ${losses.length} steps, loss ${$('lm-loss').textContent}.`;
      panel().dataset.done = message.stopped ? 'stopped' : 'finished';
      break;
    case 'gguf':
      download(message.bytes, message.name);
      break;
    case 'error':
      showError(message.code, message.message);
      break;
  }
}

async function start(quick: boolean): Promise<void> {
  $('alert').hidden = true;
  delete panel().dataset.error;
  delete panel().dataset.done;
  delete panel().dataset.steps;
  if (!('gpu' in navigator)) {
    // Same help as E_NO_ADAPTER from @distillery/webgpu, before a worker is even started.
    const { browserNoAdapterHelp } = await import('./no-gpu.js');
    showError('E_NO_ADAPTER', browserNoAdapterHelp());
    document.body.dataset.error = 'E_NO_ADAPTER';
    return;
  }
  losses = [];
  for (const id of ['lm-teacher-params', 'lm-student-params', 'lm-loss', 'lm-teacher-story', 'lm-student-story']) $(id).textContent = '–';
  for (const id of ['lm-teacher-story-info', 'lm-student-story-info']) $(id).textContent = '';
  $<HTMLButtonElement>('lm-download').disabled = true;
  scheduleDraw();
  worker?.terminate();
  worker = new Worker(new URL('./lm-worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (event: MessageEvent<FromLmWorker>) => onMessage(event.data);
  worker.onerror = (event) => {
    showError('E_UNEXPECTED', `The TinyStories worker failed: ${event.message}`);
    setRunning(false);
  };
  const base = quick ? LM_QUICK_SETTINGS : LM_SETTINGS;
  const steps = Math.round(Number($<HTMLInputElement>('lm-steps').value));
  const settings: LmRunSettings = {
    ...base,
    steps: Number.isFinite(steps) && steps >= 1 ? steps : base.steps,
    prompt: $<HTMLInputElement>('lm-prompt').value || base.prompt,
  };
  const file = $<HTMLInputElement>('lm-teacher-file').files?.[0];
  const message: ToLmWorker = {
    type: 'start',
    settings,
    teacherFile: file ? { name: file.name, bytes: await file.arrayBuffer() } : undefined,
  };
  setRunning(true);
  $('lm-status').textContent = 'Reading the teacher and compiling kernels…';
  worker.postMessage(message, message.teacherFile ? [message.teacherFile.bytes] : []);
}

/** Wires the panel; `quick` (the page's ?quick) uses CI-sized windows and stories. */
export function setUpLmPanel({ quick, autostart }: { quick: boolean; autostart: boolean }): void {
  if (quick) $<HTMLInputElement>('lm-steps').value = String(LM_QUICK_SETTINGS.steps);
  $('lm-start').addEventListener('click', () => void start(quick));
  $('lm-stop').addEventListener('click', () => {
    $('lm-status').textContent = 'Stopping after this step…';
    worker?.postMessage({ type: 'stop' } satisfies ToLmWorker);
  });
  $('lm-download').addEventListener('click', () => worker?.postMessage({ type: 'download' } satisfies ToLmWorker));
  $<HTMLAnchorElement>('lm-corpus-licence').href = corpusLicenseUrl().href;
  draw();
  if (autostart) void start(quick);
}
