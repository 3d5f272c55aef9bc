import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // ESM-only native package: loaded lazily with import() (kept as import() in the CJS build too).
  external: ['node-llama-cpp'],
});
