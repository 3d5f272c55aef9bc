import { rmSync } from 'node:fs';
import { defineConfig } from 'tsup';
import type { Plugin } from 'esbuild';
import { rmSync } from 'node:fs';

// Cleaned once here, not with `clean: true`: the configs below build in parallel, and tsup's
// clean of one deletes the declaration files another has already written.
rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true });

/**
 * The sources import the Node device loader relatively; the build turns that import into
 * `#node-gpu`, which package.json's `imports` maps to `node-gpu.js` in Node and to
 * `node-gpu.browser.js` for browsers, so a page bundle never sees `import('webgpu')`.
 */
const nodeGpuThroughImportMap: Plugin = {
  name: 'node-gpu-import-map',
  setup(build) {
    build.onResolve({ filter: /^\.\/node-gpu\.js$/ }, () => ({ path: '#node-gpu', external: true }));
  },
};

// Cleaned here, once, not by `clean: true`: tsup's per-config clean also deletes the .d.ts files the
// other config has already written (the two builds run concurrently).
rmSync('dist', { recursive: true, force: true });

export default defineConfig([
  {
    // node-gpu and node-gpu.browser are the two targets of `#node-gpu` (package.json "imports").
    entry: {
      index: 'src/index.ts',
      wgsl: 'src/wgsl/index.ts',
      'node-gpu': 'src/node-gpu.ts',
      'node-gpu.browser': 'src/node-gpu.browser.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    target: 'es2022',
    // wgsl-preprocessor is ESM-only without types: bundle it so the CJS build works too.
    noExternal: ['wgsl-preprocessor'],
    external: ['webgpu'],
    esbuildPlugins: [nodeGpuThroughImportMap],
  },
  {
    // The vitest fixture uses top-level await (adapter probe): ESM only.
    entry: ['src/testing.ts'],
    format: ['esm'],
    dts: true,
    sourcemap: true,
    target: 'es2022',
    external: ['webgpu', 'vitest', '@distillery/webgpu'],
    esbuildPlugins: [nodeGpuThroughImportMap],
  },
]);
