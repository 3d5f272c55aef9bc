import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Two pages: the live distillation (index.html) and the self-checks the browser tests open (checks.html).
export default defineConfig({
  base: './',
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 2048,
    rollupOptions: { input: { index: resolve(import.meta.dirname, 'index.html'), checks: resolve(import.meta.dirname, 'checks.html') } },
  },
});
