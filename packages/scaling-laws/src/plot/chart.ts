/** A minimal, dependency-free SVG line/scatter chart: enough for the package's four plots. */

export type AxisScale = 'linear' | 'log';

export interface ChartSeries {
  label: string;
  points: readonly (readonly [number, number])[];
  style: 'line' | 'points';
  /** CSS colour; defaults cycle through a colour-blind-safe palette. */
  color?: string;
  dashed?: boolean;
}

export interface ChartMarker {
  x: number;
  y: number;
  label: string;
  color?: string;
  /** Vertical shift of the label in pixels (to keep labels of nearby markers apart). */
  labelDy?: number;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  xScale?: AxisScale;
  yScale?: AxisScale;
  series: readonly ChartSeries[];
  markers?: readonly ChartMarker[];
  width?: number;
  height?: number;
  /** Fixed axis ranges; by default they fit the data with a small margin. */
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** Corner for the legend (default top-right). */
  legend?: 'top-right' | 'top-left' | 'bottom-right';
  /** Formats tick labels (default: short scientific form). */
  xTickFormat?: (value: number) => string;
  yTickFormat?: (value: number) => string;
}

/** Okabe-Ito palette. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

const MARGIN = { left: 72, right: 24, top: 56, bottom: 56 };

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function round(value: number): string {
  return (Math.round(value * 100) / 100).toString();
}

export function formatTick(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e4 || magnitude < 1e-2) {
    const exponent = Math.floor(Math.log10(magnitude) + 1e-9);
    const mantissa = value / Math.pow(10, exponent);
    const m = Number(mantissa.toPrecision(3));
    return m === 1 ? `1e${exponent}` : `${m}e${exponent}`;
  }
  return String(Number(value.toPrecision(4)));
}

function domainOf(values: number[], scale: AxisScale): [number, number] {
  const usable = values.filter((v) => Number.isFinite(v) && (scale === 'linear' || v > 0));
  if (usable.length === 0) return scale === 'log' ? [1, 10] : [0, 1];
  let lo = Math.min(...usable);
  let hi = Math.max(...usable);
  if (scale === 'log') {
    if (lo === hi) return [lo / 2, hi * 2];
    const pad = Math.pow(hi / lo, 0.04);
    return [lo / pad, hi * pad];
  }
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = 0.05 * (hi - lo);
  return [lo - pad, hi + pad];
}

function niceStep(span: number, target: number): number {
  const raw = span / target;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const fraction = raw / power;
  return (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * power;
}

function ticks(domain: [number, number], scale: AxisScale): number[] {
  const [lo, hi] = domain;
  if (scale === 'linear') {
    const step = niceStep(hi - lo, 6);
    const out: number[] = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }
  const first = Math.ceil(Math.log10(lo) - 1e-9);
  const last = Math.floor(Math.log10(hi) + 1e-9);
  const decades = last - first + 1;
  const out: number[] = [];
  if (decades >= 2) {
    const every = Math.max(1, Math.ceil(decades / 8));
    for (let e = first; e <= last; e += every) out.push(Math.pow(10, e));
    return out;
  }
  // Less than two decades: 1-2-5 ticks (or finer) keep the axis readable.
  for (let e = first - 1; e <= last; e++) {
    for (const m of [1, 1.5, 2, 3, 5, 7]) {
      const v = m * Math.pow(10, e);
      if (v >= lo && v <= hi) out.push(v);
    }
  }
  return out.length >= 2 ? out : [lo, hi];
}

/** Renders the chart as a standalone SVG document (no external fonts, scripts or styles). */
export function renderChart(spec: ChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 480;
  const xScale = spec.xScale ?? 'linear';
  const yScale = spec.yScale ?? 'linear';
  const allX = spec.series.flatMap((s) => s.points.map((p) => p[0])).concat((spec.markers ?? []).map((m) => m.x));
  const allY = spec.series.flatMap((s) => s.points.map((p) => p[1])).concat((spec.markers ?? []).map((m) => m.y));
  const xDomain = spec.xDomain ?? domainOf(allX, xScale);
  const yDomain = spec.yDomain ?? domainOf(allY, yScale);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const t = (v: number, domain: [number, number], scale: AxisScale) =>
    scale === 'log'
      ? (Math.log(v) - Math.log(domain[0])) / (Math.log(domain[1]) - Math.log(domain[0]))
      : (v - domain[0]) / (domain[1] - domain[0]);
  const px = (v: number) => MARGIN.left + t(v, xDomain, xScale) * plotW;
  const py = (v: number) => MARGIN.top + (1 - t(v, yDomain, yScale)) * plotH;
  const inside = (x: number, y: number) =>
    Number.isFinite(x) && Number.isFinite(y) && (xScale === 'linear' || x > 0) && (yScale === 'linear' || y > 0);
  const xFormat = spec.xTickFormat ?? formatTick;
  const yFormat = spec.yTickFormat ?? formatTick;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  parts.push(`<title>${escapeXml(spec.title)}</title>`);
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="${MARGIN.left}" y="24" font-size="16" font-weight="bold">${escapeXml(spec.title)}</text>`);
  if (spec.subtitle) parts.push(`<text x="${MARGIN.left}" y="42" fill="#555555">${escapeXml(spec.subtitle)}</text>`);
  parts.push(
    `<defs><clipPath id="plot-area"><rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}"/></clipPath></defs>`,
  );

  for (const v of ticks(xDomain, xScale)) {
    const x = round(px(v));
    parts.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${x}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${escapeXml(xFormat(v))}</text>`);
  }
  for (const v of ticks(yDomain, yScale)) {
    const y = round(py(v));
    parts.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(yFormat(v))}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333333"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);

  parts.push(`<g clip-path="url(#plot-area)">`);
  spec.series.forEach((series, k) => {
    const color = series.color ?? PALETTE[k % PALETTE.length]!;
    const points = series.points.filter(([x, y]) => inside(x, y));
    if (series.style === 'line') {
      // Break the path at gaps (non-finite points) instead of drawing across them.
      let d = '';
      let pen = false;
      for (const [x, y] of series.points) {
        if (!inside(x, y)) {
          pen = false;
          continue;
        }
        d += `${pen ? 'L' : 'M'}${round(px(x))},${round(py(y))}`;
        pen = true;
      }
      if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    } else {
      for (const [x, y] of points)
        parts.push(`<circle cx="${round(px(x))}" cy="${round(py(y))}" r="3.5" fill="${color}" fill-opacity="0.75"/>`);
    }
  });
  for (const marker of spec.markers ?? []) {
    if (!inside(marker.x, marker.y)) continue;
    const color = marker.color ?? '#000000';
    const x = round(px(marker.x));
    const y = round(py(marker.y));
    parts.push(`<path d="M${x},${Number(y) - 6}L${Number(x) + 6},${y}L${x},${Number(y) + 6}L${Number(x) - 6},${y}Z" fill="${color}"/>`);
    if (marker.label)
      parts.push(
        `<text x="${Number(x) + 9}" y="${Number(y) - 8 + (marker.labelDy ?? 0)}" fill="${color}" font-size="11">${escapeXml(marker.label)}</text>`,
      );
  }
  parts.push(`</g>`);

  // Legend, top right inside the plot.
  const labelled = spec.series.filter((s) => s.label);
  if (labelled.length > 0) {
    const rowH = 18;
    const boxW = Math.min(plotW - 16, 24 + 7 * Math.max(...labelled.map((s) => s.label.length)));
    const boxH = rowH * labelled.length + 8;
    const corner = spec.legend ?? 'top-right';
    const boxX = corner === 'top-left' ? MARGIN.left + 8 : MARGIN.left + plotW - boxW - 8;
    const boxY = corner === 'bottom-right' ? MARGIN.top + plotH - boxH - 8 : MARGIN.top + 8;
    parts.push(`<rect x="${boxX}" y="${boxY}" width="${boxW}" height="${boxH}" fill="#ffffff" fill-opacity="0.9" stroke="#cccccc"/>`);
    spec.series.forEach((series, k) => {
      if (!series.label) return;
      const index = labelled.indexOf(series);
      const color = series.color ?? PALETTE[k % PALETTE.length]!;
      const y = boxY + 14 + index * rowH;
      if (series.style === 'line') {
        parts.push(
          `<line x1="${boxX + 6}" y1="${y - 4}" x2="${boxX + 20}" y2="${y - 4}" stroke="${color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="4 3"' : ''}/>`,
        );
      } else {
        parts.push(`<circle cx="${boxX + 13}" cy="${y - 4}" r="3.5" fill="${color}"/>`);
      }
      parts.push(`<text x="${boxX + 26}" y="${y}">${escapeXml(series.label)}</text>`);
    });
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
