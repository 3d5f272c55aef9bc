/** A small canvas line chart: a few named series, linear axes, redrawn on every update. */
export interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

export function drawChart(canvas: HTMLCanvasElement, series: readonly Series[], { yLabel = '', percent = false } = {}): void {
  const ctx = canvas.getContext('2d')!;
  const { width, height } = canvas;
  const pad = { left: 52, right: 12, top: 12, bottom: 28 };
  ctx.clearRect(0, 0, width, height);
  const all = series.flatMap((s) => s.points);
  ctx.font = '11px system-ui, sans-serif';
  if (all.length === 0) {
    ctx.fillStyle = '#9aa1b3';
    ctx.fillText('waiting for the first step…', pad.left + 10, height / 2);
    return;
  }
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  const yMax = Math.max(...all.map((p) => p[1])) * 1.05 || 1;
  const x = (v: number) => pad.left + (v / xMax) * (width - pad.left - pad.right);
  const y = (v: number) => height - pad.bottom - (v / yMax) * (height - pad.top - pad.bottom);
  ctx.strokeStyle = '#e3e6ef';
  ctx.fillStyle = '#6b7388';
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.left, y(v));
    ctx.lineTo(width - pad.right, y(v));
    ctx.stroke();
    ctx.fillText(percent ? `${(v * 100).toFixed(1)}%` : v.toFixed(2), 4, y(v) + 4);
  }
  ctx.fillText(yLabel, pad.left, height - 8);
  series.forEach((s, index) => {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    s.points.forEach(([px, py], i) => (i ? ctx.lineTo(x(px), y(py)) : ctx.moveTo(x(px), y(py))));
    ctx.stroke();
    ctx.fillStyle = s.color;
    ctx.fillText(s.name, width - pad.right - 110, pad.top + 12 + index * 14);
  });
}
