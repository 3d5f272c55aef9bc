import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/bin.ts', 'src/render.ts', 'src/index.ts'],
  format: ['esm'],
  dts: { entry: ['src/index.ts'] },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // esbuild and playwright-core (root devDependencies) drive --browser; never bundled.
  external: [
    'esbuild',
    'playwright-core',
    'webgpu',
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-backend-webgpu',
    '@tensorflow/tfjs-backend-cpu',
  ],
});
