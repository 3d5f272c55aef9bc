import { wgsl as preprocess } from 'wgsl-preprocessor/wgsl-preprocessor.js';

/**
 * The one entry point to WGSL templating: a template tag that resolves `#if ${flag}` / `#elif` /
 * `#else` / `#endif` blocks at build time of the shader string. Kernel packages import this
 * instead of wgsl-preprocessor, so the dependency is wrapped (and bundled) once.
 */
export function wgsl(strings: TemplateStringsArray, ...values: unknown[]): string {
  return preprocess(strings, ...values);
}
