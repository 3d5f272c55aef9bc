import { defineConfig } from 'tsup';

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
  },
  {
    // The vitest fixture uses top-level await (adapter probe): ESM only.
    entry: ['src/testing.ts'],
    format: ['esm'],
    dts: true,
    sourcemap: true,
    target: 'es2022',
    external: ['webgpu', 'vitest', '@distillery/webgpu'],
  },
]);
