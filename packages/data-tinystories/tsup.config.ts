import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/urls.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // import.meta.url (the bundled files are found relative to the module) in the CJS build too.
  shims: true,
});
