import { DistilleryError } from '@distillery/core';

export interface WorkgroupReduceOptions {
  /** Name of the generated WGSL function `fn name(lid: u32, value: T) -> T`. */
  name: string;
  /**
   * `sum` or `max`, or `combine`: the name of a WGSL function `fn f(a: T, b: T) -> T` declared in
   * the same module that merges two partial results (it must be associative; e.g. an online
   * log-sum-exp merge of (max, sum) pairs). A custom combine always takes the shared-memory tree.
   */
  op: 'sum' | 'max' | { combine: string };
  /** WGSL type of one value: `f32` (default), `vec2<f32>`..`vec4<f32>` to reduce several values at once, `u32`, `i32`. */
  type?: string;
  /** Invocations per workgroup (the `@workgroup_size` x; 1-D workgroups). */
  workgroupSize: number;
  /**
   * Use subgroup operations (the device has the `subgroups` feature; pass it in the variant so
   * both paths have their own pipeline). Needs a power-of-two workgroup; else the tree is used.
   */
  subgroups?: boolean;
}

const isPow2 = (n: number) => (n & (n - 1)) === 0;

/**
 * WGSL of a workgroup reduction: a module-scope scratch array and `fn name(lid, value) -> T` that
 * returns the sum (or max) of `value` over the whole workgroup to every invocation.
 * Call it from uniform control flow with every invocation of the workgroup (it has barriers),
 * passing `@builtin(local_invocation_index)`; it can be called again right away (it ends with a
 * barrier, so the scratch is free).
 *
 * - fallback: a shared-memory tree (pairs at distance WG/2, WG/4, ... : the order every hand-written
 *   loop used, so results are bitwise the same);
 * - `op: { combine }`: the same tree, merging with the named WGSL function;
 * - subgroups: `subgroupAdd`/`subgroupMax` inside each subgroup, one partial per subgroup in shared
 *   memory, then one more subgroup reduction of those partials. Subgroups are taken to be
 *   contiguous ranges of `local_invocation_index` (true of 1-D workgroups on Vulkan, Metal and D3D drivers).
 */
export function workgroupReduce({ name, op, type = 'f32', workgroupSize: wg, subgroups = false }: WorkgroupReduceOptions): string {
  if (!Number.isInteger(wg) || wg < 1)
    throw new DistilleryError('E_BAD_VALUE', `workgroupReduce ${name}: workgroupSize must be a positive integer, got ${wg}`, {
      field: 'workgroupSize',
      value: wg,
    });
  if (typeof op === 'object' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(op.combine))
    throw new DistilleryError(
      'E_BAD_VALUE',
      `workgroupReduce ${name}: op.combine must name a WGSL function, got ${JSON.stringify(op.combine)}`,
      {
        field: 'op.combine',
        value: op.combine,
      },
    );
  const scratch = `${name}Scratch`;
  const combine = (a: string, b: string) =>
    typeof op === 'object' ? `${op.combine}(${a}, ${b})` : op === 'sum' ? `${a} + ${b}` : `max(${a}, ${b})`;
  if (subgroups && isPow2(wg) && typeof op !== 'object') {
    const sgOp = op === 'sum' ? 'subgroupAdd' : 'subgroupMax';
    // Sum pads idle lanes with 0; max pads them with partial 0, which max ignores (max is idempotent).
    const start = op === 'sum' ? `${type}()` : `${scratch}[0]`;
    return `var<workgroup> ${scratch}: array<${type}, ${wg}>;
fn ${name}(lid: u32, value: ${type}) -> ${type} {
  // Every invocation is active here (uniform control flow), so this counts the subgroup's size.
  let size = subgroupAdd(1u);
  let part = ${sgOp}(value);
  if (lid % size == 0u) { ${scratch}[lid / size] = part; }
  workgroupBarrier();
  let count = (${wg}u + size - 1u) / size;
  var acc = ${start};
  for (var i = lid % size; i < count; i += size) { acc = ${combine('acc', `${scratch}[i]`)}; }
  let result = ${sgOp}(acc);
  workgroupBarrier();
  return result;
}
`;
  }
  let p = 1;
  while (p < wg) p *= 2;
  const guard = p === wg ? 'lid < s' : `lid < s && lid + s < ${wg}u`;
  return `var<workgroup> ${scratch}: array<${type}, ${wg}>;
fn ${name}(lid: u32, value: ${type}) -> ${type} {
  ${scratch}[lid] = value;
  workgroupBarrier();
  for (var s = ${p / 2}u; s > 0u; s = s >> 1u) {
    if (${guard}) { ${scratch}[lid] = ${combine(`${scratch}[lid]`, `${scratch}[lid + s]`)}; }
    workgroupBarrier();
  }
  let result = ${scratch}[0];
  workgroupBarrier();
  return result;
}
`;
}

/** Whether kernels on this device may take the subgroup path (the feature was enabled at device creation). */
export function hasSubgroups(device: GPUDevice): boolean {
  return device.features.has('subgroups' as GPUFeatureName);
}
