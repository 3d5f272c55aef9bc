import { defineConfig } from 'tsup';
import type { Plugin } from 'esbuild';

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

export default defineConfig([
  {
    entry: { index: 'src/index.ts', wgsl: 'src/wgsl/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    // wgsl-preprocessor is ESM-only without types: bundle it so the CJS build works too.
    noExternal: ['wgsl-preprocessor'],
    external: ['webgpu'],
    esbuildPlugins: [nodeGpuThroughImportMap],
  },
  {
    // The two targets of `#node-gpu` (package.json "imports").
    entry: { 'node-gpu': 'src/node-gpu.ts', 'node-gpu.browser': 'src/node-gpu.browser.ts' },
    format: ['esm', 'cjs'],
    sourcemap: true,
    target: 'es2022',
    external: ['webgpu'],
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
