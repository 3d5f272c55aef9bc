import { DistilleryError, type DType } from '@distillery/core';
import { GpuTensor } from '../tensor.js';

/** One storage binding of a kernel. */
export interface BindingDecl {
  /** WGSL type of the variable: `array<f32>`, `array<vec4<f32>>`, `array<atomic<u32>, 16>`... */
  type: string;
  access: 'read' | 'read_write';
  /**
   * The tensor dtype this binding holds when the WGSL type does not say it (f16 rows read as
   * `vec2<u32>` pairs: `'f16'`), or `'any'` to accept every dtype. Default: the scalar of `type`.
   */
  dtype?: DType | 'any';
}

/** Binding name → declaration, in binding order; a falsy entry is absent from this variant. */
export type BindingTable = Record<string, BindingDecl | undefined | null | false | 0 | ''>;

/** What a binding may be given: a tensor (bound whole), a buffer, or a range of one. */
export type Bindable = GpuTensor | GPUBuffer | GPUBufferBinding;

export interface DeclaredBinding extends BindingDecl {
  name: string;
  binding: number;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The present bindings of a table, numbered from `first`. */
export function declareBindings(table: BindingTable, first: number): DeclaredBinding[] {
  const out: DeclaredBinding[] = [];
  for (const [name, decl] of Object.entries(table)) {
    if (!decl) continue;
    if (!IDENT.test(name))
      throw new DistilleryError('E_BAD_VALUE', `binding name "${name}" is not a WGSL identifier`, { field: 'bindings', value: name });
    out.push({ ...decl, name, binding: first + out.length });
  }
  return out;
}

export function bindingsWgsl(declared: readonly DeclaredBinding[]): string {
  return declared.map((b) => `@group(0) @binding(${b.binding}) var<storage, ${b.access}> ${b.name}: ${b.type};`).join('\n');
}

/** The dtype a declaration expects, or undefined when any is fine. */
function expectedDtypes(decl: BindingDecl): readonly DType[] | undefined {
  if (decl.dtype === 'any') return undefined;
  if (decl.dtype) return [decl.dtype];
  const scalar = /\b(f32|f16|u32|i32)\b/.exec(decl.type)?.[1] as DType | undefined;
  if (!scalar) return undefined;
  // Integer words are also how packed or flag data is viewed: u32 and i32 tensors share them.
  return scalar === 'u32' || scalar === 'i32' ? ['u32', 'i32'] : [scalar];
}

function boundBytes(value: Bindable): number {
  if (value instanceof GpuTensor) return value.byteLength;
  if ('buffer' in value) return value.size ?? value.buffer.size - (value.offset ?? 0);
  return value.size;
}

function isBindable(value: unknown): value is Bindable {
  if (value instanceof GpuTensor) return true;
  if (!value || typeof value !== 'object') return false;
  return 'buffer' in value || ('size' in value && 'usage' in value);
}

export interface BindingContext {
  kernel: string;
  label: string;
  device: GPUDevice;
}

/**
 * Orders the caller's named bindings by the variant's declaration, after checking that every
 * declared binding is given, nothing undeclared is, tensor dtypes match, and each binding fits
 * maxStorageBufferBindingSize.
 */
export function orderBindings(
  declared: readonly DeclaredBinding[],
  given: Readonly<Record<string, Bindable | undefined | null | false>>,
  ctx: BindingContext,
): Bindable[] {
  const where = `${ctx.kernel} (${ctx.label})`;
  const names = new Set(declared.map((b) => b.name));
  for (const [name, value] of Object.entries(given)) {
    if (value && !names.has(name)) {
      throw new DistilleryError(
        'E_BAD_VALUE',
        `${where}: binding ${name} is not used by this variant (it binds ${[...names].join(', ') || 'nothing'})`,
        {
          kernel: ctx.kernel,
          label: ctx.label,
          field: `bindings.${name}`,
          value: value instanceof GpuTensor ? value.label : 'buffer',
          expected: 'absent',
        },
      );
    }
  }
  const limit = ctx.device.limits.maxStorageBufferBindingSize;
  return declared.map((decl) => {
    const value = given[decl.name];
    const field = `bindings.${decl.name}`;
    if (!value || !isBindable(value)) {
      throw new DistilleryError('E_BAD_VALUE', `${where}: binding ${decl.name} (${decl.type}) is missing`, {
        kernel: ctx.kernel,
        label: ctx.label,
        field,
        value: value ?? undefined,
        expected: `a tensor or buffer for ${decl.type}`,
      });
    }
    const dtypes = expectedDtypes(decl);
    if (value instanceof GpuTensor && dtypes && !dtypes.includes(value.dtype)) {
      throw new DistilleryError(
        'E_BAD_VALUE',
        `${where}: binding ${decl.name} (${decl.type}) needs a ${dtypes.join(' or ')} tensor, got ${value.label} (${value.dtype})`,
        {
          kernel: ctx.kernel,
          label: ctx.label,
          field,
          value: value.dtype,
          expected: dtypes.join(' or '),
          tensor: value.label,
        },
      );
    }
    const bytes = boundBytes(value);
    if (bytes > limit) {
      throw new DistilleryError(
        'E_LIMIT_EXCEEDED',
        `${where}: binding ${decl.name} needs a ${bytes}-byte storage binding, above this device's maxStorageBufferBindingSize (${limit} bytes); split the batch`,
        { kernel: ctx.kernel, label: ctx.label, field, value: bytes, limit: 'maxStorageBufferBindingSize', limitBytes: limit },
      );
    }
    return value;
  });
}
