// The GPU kit's summary of one run (copied into the kit as ratios.mjs; run.sh calls it last):
// the two ratios the performance goals name, from $OUT's results and vendor-baseline.json.
//   - WebGPU f32 matmul (train suite, best kernel per size) against cuBLAS SGEMM with TF32 off;
//   - the fused KD loss's GB/s (kd-loss suite) against the WebGPU roofline of the same process and
//     against CUDA's device-to-device copy, and against PyTorch CUDA's own KD loss at the same shape.
// Prints a markdown table; exits 0 whatever it finds (a missing side shows as "-").
//
//   node ratios.mjs <OUT>
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The rows of both sides, paired: pure, so the test can feed it documents. */
export function summarize(gpuDocs, vendor) {
  const lines = [];
  const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)} %` : '-');
  const num = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
  // A skipped case (too big for the device or its memory budget) measured nothing.
  const rows = gpuDocs.flatMap((d) => d.results.filter((r) => !r.skipped).map((r) => ({ ...r, adapter: d.adapter })));
  const vendorRows = vendor?.results ?? [];

  lines.push(`### matmul f32 (goal: ≥ 50 % of ${vendor ? `cuBLAS on ${vendor.device}, TF32 off` : 'the vendor library'})`, '');
  lines.push('| size | WebGPU GFLOP/s (kernel) | vendor GFLOP/s | ratio |', '|---|---|---|---|');
  const sizes = new Set([
    ...rows
      .filter((r) => r.suite === 'train' && r.name === 'matmul' && r.params.M === r.params.N && r.params.N === r.params.K)
      .map((r) => r.params.M),
    ...vendorRows.filter((r) => r.name === 'matmul-f32').map((r) => r.params.m),
  ]);
  for (const n of [...sizes].sort((a, b) => a - b)) {
    const ours = rows
      .filter(
        (r) =>
          r.suite === 'train' &&
          r.name === 'matmul' &&
          r.params.M === n &&
          r.params.N === n &&
          r.params.K === n &&
          r.params.dtype === 'f32',
      )
      .sort((a, b) => b.gflops - a.gflops)[0];
    const theirs = vendorRows.find((r) => r.name === 'matmul-f32' && r.params.m === n);
    lines.push(
      `| ${n}³ | ${ours ? `${num(ours.gflops)} (${ours.params.kernel ?? '?'})` : '-'} | ${num(theirs?.gflops)} | ${pct(ours?.gflops / theirs?.gflops)} |`,
    );
  }

  const copy = vendor?.copyGBps;
  lines.push('', `### KD loss forward + backward (goal: ≥ 70 % of copy bandwidth${copy ? `; CUDA copy ${num(copy)} GB/s` : ''})`, '');
  lines.push(
    '| rows × vocab, dtype | WebGPU GB/s | of WebGPU roofline (source) | of CUDA copy | PyTorch CUDA GB/s | WebGPU / PyTorch |',
    '|---|---|---|---|---|---|',
  );
  for (const r of rows.filter((r) => r.suite === 'kd-loss' && r.gbps !== undefined)) {
    const torch = vendorRows.find((v) => v.name === 'kd-loss-f32' && v.params.rows === r.params.rows && v.params.vocab === r.params.vocab);
    const sameDtype = r.params.dtype === 'f32' ? torch : undefined;
    lines.push(
      `| ${r.params.rows} × ${r.params.vocab}, ${r.params.dtype} | ${num(r.gbps, 1)} | ${pct(r.metrics?.ratioToRoofline)} (${r.params.roofline ?? '?'}) | ${pct(r.gbps / copy)} | ${num(sameDtype?.gbps, 1)} | ${sameDtype ? `${num(r.gbps / sameDtype.gbps, 2)}×` : '-'} |`,
    );
  }
  const adapters = [...new Set(gpuDocs.map((d) => (d.adapter ? `${d.adapter.vendor} ${d.adapter.architecture} ${d.adapter.device}` : '')))];
  lines.push(
    '',
    `WebGPU adapter: ${adapters.join(', ') || '-'}; vendor: ${vendor ? `${vendor.device}, torch ${vendor.torch}, CUDA ${vendor.cuda}` : 'not run'}.`,
  );
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node ratios.mjs <OUT>');
    process.exit(2);
  }
  const dir = join(out, 'results');
  const docs = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
        .filter((d) => d.adapter)
    : [];
  const vendorPath = join(out, 'vendor-baseline.json');
  const vendor = existsSync(vendorPath) ? JSON.parse(readFileSync(vendorPath, 'utf8')) : undefined;
  console.log(summarize(docs, vendor));
}
