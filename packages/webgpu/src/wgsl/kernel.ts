import type { KernelProgram } from '../program.js';
import type { CommandRecorder } from '../recorder.js';
import { bindingsWgsl, declareBindings, orderBindings, type Bindable, type BindingTable, type DeclaredBinding } from './bindings.js';
import { stableKey } from './hash.js';
import { packUniformTable, uniformStructWgsl, type UniformTable, type UniformValues } from './uniforms.js';

/** What a kernel's WGSL template receives besides its variant. */
export interface KernelContext {
  /** `enable` directives, the uniform struct with its binding, and every storage binding: the top of the shader. */
  header: string;
  /** `enable f16;` when a binding's WGSL type uses f16 (plus the spec's `enables`). */
  enables: string;
  /** `struct Params {...}; @group(0) @binding(0) var<uniform> params: Params;` (empty without uniforms). */
  params: string;
  /** The storage binding declarations of this variant. */
  bindings: string;
  /** This variant's bindings in binding order. */
  declared: readonly DeclaredBinding[];
}

export interface KernelSpec<V, U extends UniformTable, B extends BindingTable> {
  /** Kernel name: labels, errors, pipeline cache, snapshot files. Dotted by package (`nn.layer-norm`). */
  name: string;
  /** Uniform fields in struct order; shapes and scalars go here so they never recompile a pipeline. */
  uniforms?: U;
  /** The storage bindings of a variant, in binding order (from @binding(1), or 0 without uniforms). */
  bindings: (variant: V) => B;
  /** The WGSL of a variant; start it with `${k.header}`. */
  wgsl: (variant: V, k: KernelContext) => string;
  /** Extra `enable` extensions (e.g. `subgroups`); `f16` is added when a binding type uses f16. */
  enables?: (variant: V) => readonly string[];
  /** Device features beyond the ones implied by `enable` directives (`shader-f16`, `subgroups`). */
  requiredFeatures?: (variant: V) => readonly GPUFeatureName[];
  entryPoint?: string;
}

/** The named bindings of a record call: every binding the variant declares, nothing else. */
export type BindingValues<B extends BindingTable> = { [K in keyof B]?: Bindable | undefined | null | false };

export interface RecordArgs<U extends UniformTable, B extends BindingTable> {
  uniforms: UniformValues<U>;
  bindings: BindingValues<B>;
  workgroups: readonly [number, number?, number?];
  /** Label of the dispatch (bind group, errors); default the kernel name. */
  label?: string;
}

export interface Kernel<V, U extends UniformTable, B extends BindingTable> extends KernelProgram<V> {
  readonly uniforms: U;
  /** The spec's binding table of a variant. */
  bindingTable(variant: V): B;
  /** This variant's bindings in binding order, numbered. */
  declared(variant: V): readonly DeclaredBinding[];
  /** Checks the named bindings and uniforms against the declaration, then records the dispatch. */
  record(recorder: CommandRecorder, variant: V, args: RecordArgs<U, B>): CommandRecorder;
}

const FEATURE_OF: Record<string, GPUFeatureName> = { f16: 'shader-f16' as GPUFeatureName, subgroups: 'subgroups' as GPUFeatureName };
const SUBGROUP_CALL = /\bsubgroup[A-Z][A-Za-z]*\s*\(/;

/**
 * Defines a kernel once: the uniform struct and its packer come from `uniforms`, the WGSL binding
 * declarations and the host's bind-group order from `bindings`, the pipeline cache key from the
 * variant itself (every field, stably serialised), the required features from the `enable`s.
 */
export function defineKernel<V, U extends UniformTable = Record<never, never>, B extends BindingTable = BindingTable>(
  spec: KernelSpec<V, U, B>,
): Kernel<V, U, B> {
  const uniforms = (spec.uniforms ?? {}) as U;
  const hasUniforms = Object.keys(uniforms).length > 0;
  const params = uniformStructWgsl(uniforms);
  const firstBinding = hasUniforms ? 1 : 0;
  const declaredCache = new Map<string, readonly DeclaredBinding[]>();
  const textCache = new Map<string, string>();

  const declared = (variant: V): readonly DeclaredBinding[] => {
    const key = stableKey(variant);
    let found = declaredCache.get(key);
    if (!found) declaredCache.set(key, (found = declareBindings(spec.bindings(variant), firstBinding)));
    return found;
  };

  const wgsl = (variant: V): string => {
    const key = stableKey(variant);
    const cached = textCache.get(key);
    if (cached !== undefined) return cached;
    const list = declared(variant);
    const extensions = new Set(spec.enables?.(variant) ?? []);
    if (list.some((b) => /\bf16\b/.test(b.type))) extensions.add('f16');
    const enables = [...extensions].map((e) => `enable ${e};\n`).join('');
    const bindings = bindingsWgsl(list);
    const header = [enables + params, bindings].filter(Boolean).join('\n');
    let text = spec.wgsl(variant, { header, enables, params, bindings, declared: list });
    // A subgroup reduction in the body needs the extension: enable it rather than fail to compile.
    if (SUBGROUP_CALL.test(text) && !/enable\s+subgroups\s*;/.test(text)) text = `enable subgroups;\n${text}`;
    textCache.set(key, text);
    return text;
  };

  const requiredFeatures = (variant: V): readonly GPUFeatureName[] => {
    const text = wgsl(variant);
    const features = new Set<GPUFeatureName>(spec.requiredFeatures?.(variant) ?? []);
    for (const match of text.matchAll(/^\s*enable\s+([^;]+);/gm)) {
      for (const ext of match[1]!.split(',')) {
        const feature = FEATURE_OF[ext.trim()];
        if (feature) features.add(feature);
      }
    }
    return [...features];
  };

  const kernel: Kernel<V, U, B> = {
    name: spec.name,
    uniforms,
    entryPoint: spec.entryPoint,
    cacheKey: stableKey,
    wgsl,
    requiredFeatures,
    bindingTable: spec.bindings,
    declared,
    record(recorder, variant, args) {
      const label = args.label ?? spec.name;
      const ctx = { kernel: spec.name, label, device: recorder.device };
      const bindings = orderBindings(declared(variant), args.bindings as Record<string, Bindable | undefined>, ctx);
      const packed = packUniformTable(uniforms, args.uniforms as Record<string, number | boolean>, ctx);
      return recorder.dispatch({
        program: kernel,
        variant,
        bindings,
        uniforms: hasUniforms ? packed : undefined,
        workgroups: args.workgroups,
        label,
      });
    },
  };
  return kernel;
}
