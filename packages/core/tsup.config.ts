import { defineConfig } from 'tsup';

export default defineConfig({
  // `half` is its own entry so that importers of just the f16 conversions (gguf, webgpu) do not pull
  // in the main entry's module-level schemas when bundled.
  entry: ['src/index.ts', 'src/node.ts', 'src/half.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
