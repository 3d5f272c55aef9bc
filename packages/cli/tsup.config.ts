import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    // No `clean` here: the configs build in parallel and one would delete the other's output; the build script empties dist first.
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
