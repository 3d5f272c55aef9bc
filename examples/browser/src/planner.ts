/** The scaling-law panel: paste runs, fit the supervised law, draw observed vs fitted (no GPU). */
import { fitSupervised, readSupervisedRuns, renderObservedVsFitted } from '@distillery/scaling-laws';
import syntheticRuns from '../../scaling/synthetic-runs.csv?raw';

export function setUpPlanner(): void {
  const runs = document.getElementById('runs') as HTMLTextAreaElement;
  const status = document.getElementById('fit-status')!;
  const result = document.getElementById('fit-result')!;
  const plot = document.getElementById('fit-plot')!;
  // The sample's columns renamed to the names the reader knows (params, tokens, loss).
  runs.value = syntheticRuns.replace('model,n_params,train_tokens,val_loss', 'model,params,tokens,loss');
  document.getElementById('fit')!.addEventListener('click', () => {
    status.textContent = 'fitting…';
    result.textContent = '';
    plot.replaceChildren();
    // Let the page paint "fitting…" before the (synchronous) fit.
    setTimeout(() => {
      try {
        const started = performance.now();
        // No bootstrap: a point fit answers in about a second; the CLI's `distillery fit` adds the intervals.
        const fit = fitSupervised(readSupervisedRuns(runs.value), { bootstrap: 0 });
        const law = fit.law as unknown as Record<string, number>;
        status.textContent = `${fit.residuals.length} runs fitted in ${((performance.now() - started) / 1000).toFixed(1)} s`;
        result.textContent = Object.entries(law)
          .filter(([, v]) => typeof v === 'number')
          .map(([k, v]) => `${k} = ${v.toPrecision(4)}`)
          .join('   ');
        plot.innerHTML = renderObservedVsFitted(fit, { title: 'observed vs fitted loss' });
      } catch (error) {
        status.textContent = '';
        result.textContent = (error as Error).message;
      }
    }, 30);
  });
}
