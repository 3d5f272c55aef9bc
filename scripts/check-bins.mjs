#!/usr/bin/env node
// Every workspace bin must be linked in node_modules/.bin and resolve into this repository: an
// unlinked name makes `npx <bin>` fetch whatever the public registry holds under that name.
// Run by `npm run setup` (after linking) and by `npm test`.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = realpathSync(new URL('..', import.meta.url).pathname);
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const workspaceDirs = rootPkg.workspaces.flatMap((pattern) => {
  if (!pattern.endsWith('/*')) return [join(root, pattern)];
  const group = join(root, pattern.slice(0, -2));
  return existsSync(group) ? readdirSync(group).map((name) => join(group, name)) : [];
});

const problems = [];
let checked = 0;
for (const dir of workspaceDirs) {
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) continue;
  const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
  const bins = typeof pkg.bin === 'string' ? { [pkg.name.split('/').pop()]: pkg.bin } : (pkg.bin ?? {});
  for (const [name, file] of Object.entries(bins)) {
    checked++;
    const link = join(root, 'node_modules', '.bin', name);
    const target = join(dir, file);
    if (!existsSync(target)) {
      problems.push(`${name}: ${relative(root, target)} does not exist (run the build)`);
    } else if (!existsSync(link)) {
      problems.push(
        `${name}: node_modules/.bin/${name} is missing (npx would go to the public registry); run \`npm rebuild ${pkg.name} --ignore-scripts\``,
      );
    } else if (realpathSync(link) !== realpathSync(target)) {
      problems.push(`${name}: node_modules/.bin/${name} resolves to ${realpathSync(link)}, not ${relative(root, target)}`);
    } else if ((statSync(target).mode & 0o111) === 0) {
      problems.push(`${name}: ${relative(root, target)} is not executable`);
    }
  }
}
if (checked === 0) problems.push('no workspace declares a bin (expected distillery and distillery-bench)');
if (problems.length) {
  console.error(`check-bins: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-bins: ${checked} workspace bins linked into this repository`);
