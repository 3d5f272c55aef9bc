#!/usr/bin/env node
// "Installed piecemeal from npm" stays true only if the tarballs work on their own: pack every
// publishable workspace, install the tarballs into a fresh consumer project, and import each
// package (and each subpath export) both as ESM and as CJS; type-check imports of every entry under
// the three module resolutions TypeScript users pick (node10, node16 as ESM and CJS, bundler); and
// match a DistilleryError thrown by a second copy of core; and check that black-box stays off the GPU
// (its dependencies are core and zod, and neither of its entries loads a GPU module).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const workspaces = ['packages', 'plugins']
  .filter((group) => existsSync(join(root, group)))
  .flatMap((group) => readdirSync(join(root, group)).map((name) => join(root, group, name)))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => !pkg.private);

const scratch = mkdtempSync(join(tmpdir(), 'distillery-pack-'));
const results = [];
const check = (name, fn) => {
  try {
    fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name}`);
  } catch (error) {
    results.push({ name, ok: false, error: String(error.stderr ?? error.message ?? error) });
    console.log(`FAIL ${name}\n${String(error.stderr ?? error.message).slice(0, 2000)}`);
  }
};

try {
  const tarballs = [];
  const packed = new Set();
  for (const { dir, pkg } of workspaces) {
    check(`pack ${pkg.name}`, () => {
      const out = execFileSync('npm', ['pack', '--pack-destination', scratch, '--json', '--loglevel=error'], {
        cwd: dir,
        encoding: 'utf8',
      });
      const [info] = JSON.parse(out);
      const files = info.files.map((f) => f.path);
      for (const required of ['package.json', 'README.md'])
        if (!files.includes(required)) throw new Error(`${pkg.name}: tarball lacks ${required}`);
      if (!files.some((f) => f.startsWith('dist/'))) throw new Error(`${pkg.name}: tarball has no dist/`);
      if (files.some((f) => f.startsWith('src/') || f.startsWith('test/'))) throw new Error(`${pkg.name}: tarball ships sources or tests`);
      tarballs.push(join(scratch, info.filename));
      packed.add(pkg.name);
    });
  }

  const consumer = join(scratch, 'consumer');
  execFileSync('mkdir', ['-p', consumer]);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '0.0.0' }));
  check('install tarballs in a fresh project', () => {
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], {
      cwd: consumer,
      encoding: 'utf8',
      stdio: 'pipe',
    });
  });

  for (const { pkg } of workspaces) {
    for (const [subpath, conditions] of Object.entries(pkg.exports ?? {})) {
      if (subpath === './package.json' || typeof conditions !== 'object') continue;
      const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
      if (conditions.import && subpath === './testing') {
        // The vitest fixtures need vitest (an optional peer) and probe the adapter on import: check they resolve.
        check(`resolve ${specifier} (ESM)`, () => {
          const code = `const url = import.meta.resolve(${JSON.stringify(specifier)}); if (!url.endsWith('.js')) throw new Error(url);`;
          execFileSync('node', ['--input-type=module', '-e', code], { cwd: consumer, stdio: 'pipe' });
        });
      } else if (conditions.import) {
        check(`import ${specifier} (ESM)`, () => {
          const code = `const m = await import(${JSON.stringify(specifier)}); if (Object.keys(m).length === 0) throw new Error('no exports');`;
          execFileSync('node', ['--input-type=module', '-e', code], {
            cwd: consumer,
            stdio: 'pipe',
            env: { ...process.env, DISTILLERY_REQUIRE_GPU: '' },
          });
        });
      }
      if (conditions.require) {
        check(`require ${specifier} (CJS)`, () => {
          const code = `const m = require(${JSON.stringify(specifier)}); if (Object.keys(m).length === 0) throw new Error('no exports');`;
          execFileSync('node', ['-e', code], { cwd: consumer, stdio: 'pipe' });
        });
      }
    }
  }

  // Types: every entry point must resolve (no TS2307) under each moduleResolution.
  // (A package that failed to pack has already failed above.)
  const entries = workspaces
    .filter(({ pkg }) => packed.has(pkg.name))
    .flatMap(({ pkg }) =>
      Object.entries(pkg.exports ?? {})
        // Code entries only (not ./package.json or data files such as the CLI's JSON Schema).
        .filter(([subpath, conditions]) => subpath !== './package.json' && typeof conditions === 'object')
        .map(([subpath, conditions]) => ({
          specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
          // ESM-only entries (e.g. the vitest fixtures) cannot be required: a CJS importer skips them.
          cjs: 'require' in conditions || 'default' in conditions,
        })),
    );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const importsOf = (ext) =>
    entries
      .filter((e) => ext !== 'cts' || e.cjs)
      .map((e, i) => `import * as m${i} from '${e.specifier}';\nexport const e${i}: object = m${i};`)
      .join('\n');
  const resolutions = [
    { name: 'node (node10)', dir: 'types-node10', module: 'commonjs', moduleResolution: 'node', files: ['index.ts'] },
    {
      name: 'node16 (ESM and CJS importers)',
      dir: 'types-node16',
      module: 'node16',
      moduleResolution: 'node16',
      files: ['index.mts', 'index.cts'],
    },
    { name: 'bundler', dir: 'types-bundler', module: 'esnext', moduleResolution: 'bundler', files: ['index.ts'] },
  ];
  for (const r of resolutions) {
    check(`types resolve under moduleResolution ${r.name}`, () => {
      const dir = join(consumer, r.dir);
      mkdirSync(dir, { recursive: true });
      for (const file of r.files) writeFileSync(join(dir, file), importsOf(file.split('.').pop()));
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            target: 'es2022',
            module: r.module,
            moduleResolution: r.moduleResolution,
            skipLibCheck: true,
            types: [],
          },
          files: r.files,
        }),
      );
      try {
        execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
      } catch (error) {
        throw new Error(`${error.stdout ?? ''}${error.stderr ?? ''}`);
      }
    });
  }

  // "black-box never touches a GPU" (docs/architecture.md): a collection job installs and runs
  // anywhere. Its package.json lists exactly core and zod, and importing either entry (ESM graph by
  // esbuild, CJS by what Node actually loads) reaches none of the GPU packages, although the consumer
  // has them all installed. The same probes must find them in @distillery/step-by-step (the detector works).
  const GPU_PACKAGES = ['@distillery/webgpu', '@distillery/nn', '@distillery/kernels', '@distillery/step-by-step', 'webgpu'];
  const gpuModulesOf = (paths) =>
    [...new Set(paths.flatMap((p) => GPU_PACKAGES.filter((name) => p.replaceAll('\\', '/').includes(`node_modules/${name}/`))))].sort();
  const esmGpuModules = (specifiers) => {
    const result = esbuild.buildSync({
      stdin: {
        contents: specifiers.map((s, i) => `export * as m${i} from ${JSON.stringify(s)};`).join('\n'),
        resolveDir: consumer,
        loader: 'js',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    return gpuModulesOf(Object.keys(result.metafile.inputs));
  };
  const cjsGpuModules = (specifiers) => {
    const code = `${specifiers.map((s) => `require(${JSON.stringify(s)});`).join('')} console.log(JSON.stringify(Object.keys(require.cache)));`;
    return gpuModulesOf(JSON.parse(execFileSync('node', ['-e', code], { cwd: consumer, encoding: 'utf8', stdio: 'pipe' })));
  };
  /** GPU packages the sources import (caught even where the build would inline a package missing from dependencies). */
  const sourceGpuImports = (dir, entries) => {
    const result = esbuild.buildSync({
      entryPoints: entries.map((e) => join(dir, e)),
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      outdir: join(scratch, 'gpu-probe'),
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const imported = Object.values(result.metafile.inputs).flatMap((input) => input.imports.filter((i) => i.external).map((i) => i.path));
    return GPU_PACKAGES.filter((name) => imported.some((path) => path === name || path.startsWith(`${name}/`)));
  };
  const blackBoxEntries = ['@distillery/black-box', '@distillery/black-box/node'];
  check('black-box depends on @distillery/core and zod only', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'packages/black-box/package.json'), 'utf8'));
    const deps = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies }).sort();
    if (JSON.stringify(deps) !== JSON.stringify(['@distillery/core', 'zod'])) throw new Error(`dependencies: ${deps.join(', ')}`);
  });
  check('black-box and black-box/node load no GPU module (source imports, ESM graph, CJS require)', () => {
    const found = {
      sources: sourceGpuImports(join(root, 'packages/black-box'), ['src/index.ts', 'src/node.ts']),
      ESM: esmGpuModules(blackBoxEntries),
      CJS: cjsGpuModules(blackBoxEntries),
    };
    const problems = Object.entries(found).filter(([, list]) => list.length);
    if (problems.length) throw new Error(`GPU modules: ${problems.map(([probe, list]) => `${probe} ${list.join(', ')}`).join('; ')}`);
  });
  check('the GPU-module probes see them in @distillery/step-by-step', () => {
    const entries = ['@distillery/step-by-step', '@distillery/step-by-step/node'];
    const expected = ['@distillery/kernels', '@distillery/nn', '@distillery/step-by-step', '@distillery/webgpu'];
    for (const [probe, found] of [
      ['sources', [...sourceGpuImports(join(root, 'packages/step-by-step'), ['src/index.ts', 'src/node.ts']), '@distillery/step-by-step']],
      ['ESM', esmGpuModules(entries)],
      ['CJS', cjsGpuModules(entries)],
    ])
      if (!expected.every((name) => found.includes(name))) throw new Error(`${probe} probe found only ${found.join(', ') || 'nothing'}`);
  });

  // A plugin with its own nested copy of core throws; the host (CommonJS, the top-level copy) must
  // still recognise the error and its code.
  check('errors match across two copies of core (CJS host, ESM plugin copy)', () => {
    const plugin = join(consumer, 'node_modules', 'fake-plugin');
    mkdirSync(join(plugin, 'node_modules', '@distillery'), { recursive: true });
    cpSync(join(consumer, 'node_modules', '@distillery', 'core'), join(plugin, 'node_modules', '@distillery', 'core'), { recursive: true });
    writeFileSync(
      join(plugin, 'package.json'),
      JSON.stringify({ name: 'fake-plugin', version: '0.0.0', type: 'module', main: 'index.js' }),
    );
    writeFileSync(
      join(plugin, 'index.js'),
      "import { DistilleryError } from '@distillery/core';\nexport function fail() { throw new DistilleryError('E_BAD_CONFIG', 'from the plugin copy'); }\nexport { DistilleryError };\n",
    );
    const code = `const core = require('@distillery/core');
      import('fake-plugin').then(({ fail, DistilleryError }) => {
        if (DistilleryError === core.DistilleryError) throw new Error('the plugin did not get its own copy of core');
        try { fail(); } catch (e) {
          if (!core.isDistilleryError(e, 'E_BAD_CONFIG') || !(e instanceof core.DistilleryError) || e.code !== 'E_BAD_CONFIG') throw new Error('not recognised: ' + e);
          return;
        }
        throw new Error('no error');
      }).catch((e) => { console.error(e); process.exit(1); });`;
    execFileSync('node', ['-e', code], { cwd: consumer, stdio: 'pipe' });
  });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
writeFileSync(
  join(root, 'test-results-packaging.json'),
  JSON.stringify({
    numPassedTests: passed,
    numFailedTests: failed,
    numPendingTests: 0,
    success: failed === 0,
    testResults: [{ name: 'packaging', assertionResults: results.map((r) => ({ status: r.ok ? 'passed' : 'failed', fullName: r.name })) }],
  }),
);
console.log(`packaging: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
