import { rmSync } from 'node:fs';
import { defineConfig } from 'tsup';

// Cleaned here, once, not by `clean: true`: the two configs build concurrently and a per-config clean
// deletes the other's output.
rmSync('dist', { recursive: true, force: true });

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    target: 'es2022',
    // `webgpu` is ESM-only and native; it must stay an import, never bundled.
    external: ['webgpu'],
  },
  {
    // The bin uses top-level await, so it is ESM only.
    entry: ['src/bin.ts'],
    format: ['esm'],
    sourcemap: true,
    target: 'es2022',
    external: ['webgpu'],
  },
]);
