import { rmSync } from 'node:fs';
import { defineConfig } from 'tsup';

// Cleaned here, once, not by `clean: true`: tsup's per-config clean also deletes the .d.ts files the
// other config has already written (the two builds run concurrently).
rmSync('dist', { recursive: true, force: true });

export default defineConfig([
  {
    entry: { index: 'src/index.ts', wgsl: 'src/wgsl/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
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
