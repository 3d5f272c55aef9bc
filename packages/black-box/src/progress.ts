import type { CollectProgress } from './collect.js';

function compact(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * One progress line: `[######------] 120/800 15% | 3.2/s ETA 3m32s | retries 4 | failed 1 | 130 req 52.1k tok $0.0123`.
 */
export function formatCollectProgress(p: CollectProgress, { width = 24, label }: { width?: number; label?: string } = {}): string {
  const fraction = p.total > 0 ? p.done / p.total : 1;
  const filled = Math.round(fraction * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const remaining = p.total - p.done - p.failed;
  const eta = remaining > 0 && p.rate > 0 ? ` ETA ${duration(remaining / p.rate)}` : '';
  const tokens = p.spend.promptTokens + p.spend.completionTokens;
  const spend = `${p.spend.requests} req ${compact(tokens)} tok${p.spend.costUsd > 0 ? ` $${p.spend.costUsd.toFixed(4)}` : ''}`;
  const parts = [
    `${label ? `${label} ` : ''}${bar} ${p.done}/${p.total} ${Math.floor(fraction * 100)}%`,
    `${p.rate.toFixed(1)}/s${eta}`,
    `retries ${p.retries}`,
    ...(p.failed ? [`failed ${p.failed}`] : []),
    ...(p.cached ? [`cached ${p.cached}`] : []),
    spend,
  ];
  return parts.join(' | ');
}
