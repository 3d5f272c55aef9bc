#!/usr/bin/env node
// Every ```ts block in README.md, docs/*.md, packages/*/README.md and plugins/*/README.md must
// compile under strict settings against the built packages, as a user would paste it into an ESM
// project. A block that is deliberately partial is marked ```ts fragment and skipped.
// Run by scripts/repo-checks.mjs (npm test); `node scripts/docs-check.mjs` alone prints the errors.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const docs = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...['packages', 'plugins'].flatMap((group) =>
    existsSync(join(root, group))
      ? readdirSync(join(root, group))
          .map((name) => `${group}/${name}/README.md`)
          .filter((f) => existsSync(join(root, f)))
      : [],
  ),
];

const scratch = join(root, '.docs-check');
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });
const files = [];
let skipped = 0;
for (const doc of docs) {
  const lines = readFileSync(join(root, doc), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)(\s+.*)?$/.exec(lines[i].trim());
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== '```') end++;
    if (/\bfragment\b/.test(open[2] ?? '')) skipped++;
    else {
      const name = `${doc.replace(/[/.]/g, '_')}_L${start}.mts`;
      // `export {}` keeps every block its own module (no clashes between blocks' top-level names).
      writeFileSync(join(scratch, name), `${lines.slice(start, end).join('\n')}\nexport {};\n`);
      files.push({ name, doc, line: start });
    }
    i = end;
  }
}
writeFileSync(
  join(scratch, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'es2022',
      lib: ['es2023', 'dom'],
      module: 'nodenext',
      moduleResolution: 'nodenext',
      skipLibCheck: true,
      types: ['node', '@webgpu/types'],
      noUnusedLocals: false,
    },
    files: files.map((f) => f.name),
  }),
);
let output = '';
try {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', scratch], {
    cwd: root,
    encoding: 'utf8',
    stdio: 'pipe',
  });
} catch (error) {
  output = `${error.stdout ?? ''}${error.stderr ?? ''}`;
}
// Point errors back at the markdown: ".docs-check/docs_nn_md_L40.mts(3,5)" → "docs/nn.md:42:5".
const byName = new Map(files.map((f) => [f.name, f]));
const errors = output
  .split('\n')
  .filter(Boolean)
  .map((line) =>
    line.replace(/^(?:\.docs-check\/)?([\w.-]+\.mts)\((\d+),(\d+)\)/, (whole, name, row, col) => {
      const f = byName.get(name);
      return f ? `${f.doc}:${f.line + Number(row)}:${col}` : whole;
    }),
  );
rmSync(scratch, { recursive: true, force: true });
if (errors.length) {
  console.error(`docs-check: TypeScript blocks that do not compile (mark deliberate fragments \`\`\`ts fragment):\n${errors.join('\n')}`);
  process.exit(1);
}
console.log(`docs-check: ${files.length} TypeScript blocks compile (${skipped} fragments skipped) in ${docs.length} documents`);
