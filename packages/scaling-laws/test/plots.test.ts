import { describe, expect, it } from 'vitest';
import {
  CHINCHILLA_APPROACH3,
  fitSupervised,
  renderChart,
  renderDistillationFrontier,
  renderIsoFlopCurves,
  renderObservedVsFitted,
  renderTeacherLossSweep,
} from '../src/index.js';
import { syntheticSupervisedRuns } from './synthetic.js';

/** Checks the SVG is one well-formed element tree with no NaN or undefined leaking into attributes. */
function expectWellFormedSvg(svg: string): void {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  const stack: string[] = [];
  for (const match of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (selfClosing) continue;
    if (closing) expect(stack.pop()).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
}

describe('SVG plots', () => {
  it('observed vs fitted shows every run and the verdict', () => {
    const fit = fitSupervised(syntheticSupervisedRuns(CHINCHILLA_APPROACH3, 30, 0.005, 1), { form: 'chinchilla', bootstrap: 0 });
    const svg = renderObservedVsFitted(fit);
    expectWellFormedSvg(svg);
    expect(svg.match(/<circle /g)).toHaveLength(30 + 1); // runs plus the legend dot
    expect(svg).toContain('30 runs');
  });

  it('iso-FLOP curves mark one optimum per budget', () => {
    const svg = renderIsoFlopCurves({ budgets: [1e19, 1e21, 1e23] });
    expectWellFormedSvg(svg);
    expect(svg.match(/N\* /g)).toHaveLength(3);
  });

  it('the frontier draws supervised and each scenario, with crossovers', () => {
    const svg = renderDistillationFrontier({ studentParams: 1e9, scenarios: ['free', 'both'], points: 12 });
    expectWellFormedSvg(svg);
    expect(svg).toContain('supervised (same student)');
    expect(svg).toContain('distill, teacher free');
    expect(svg).toContain('crossover');
  });

  it('the teacher-loss sweep marks the best teacher for each token count', () => {
    const svg = renderTeacherLossSweep({ studentParams: 1e9, studentTokens: [2e10, 2e11] });
    expectWellFormedSvg(svg);
    expect(svg.match(/best L_T/g)).toHaveLength(2);
    expect(svg.match(/<path d="M[^"]*Z"/g)).toHaveLength(2);
  });

  it('escapes text and breaks lines at gaps', () => {
    const svg = renderChart({
      title: 'a < b & "c"',
      xLabel: 'x',
      yLabel: 'y',
      xScale: 'log',
      series: [
        {
          label: 's',
          style: 'line',
          points: [
            [1, 1],
            [10, 2],
            [100, Number.NaN],
            [1000, 3],
            [10000, 4],
          ],
        },
      ],
    });
    expectWellFormedSvg(svg);
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot;');
    expect(svg.match(/M[\d.]+,[\d.]+/g)).toHaveLength(2);
  });
});
