import { DistilleryError } from '@distillery/core';
import { assertDeviceAlive } from './device.js';
import { gpuError, markChecked, shouldCheck } from './gpu-errors.js';
import { getPipeline, type KernelProgram } from './program.js';
import { GpuTensor } from './tensor.js';
import { packUniforms, type UniformValue } from './uniforms.js';

export interface DispatchSpec<V> {
  program: KernelProgram<V>;
  variant: V;
  /**
   * Storage bindings in @binding order (group 0, after the uniform at binding 0 when present): a
   * tensor or buffer (bound whole), or a `{ buffer, offset, size }` range of one (e.g. a window of
   * rows of a tensor larger than maxStorageBufferBindingSize).
   */
  bindings: readonly (GpuTensor | GPUBuffer | GPUBufferBinding)[];
  uniforms?: readonly UniformValue[];
  workgroups: readonly [number, number?, number?];
  label?: string;
}

interface Recorded {
  pipeline: Promise<GPUComputePipeline>;
  entries: GPUBindGroupEntry[];
  workgroups: readonly [number, number?, number?];
  kernel: string;
  label: string;
}

/**
 * Records a chain of dispatches into one compute pass and submits them together: one submit
 * per kernel chain, and (with `timestamp-query`) a GPU time for the whole chain.
 * Dispatches in one pass see each other's writes in order.
 */
export class CommandRecorder {
  readonly #recorded: Recorded[] = [];
  readonly #transient: GPUBuffer[] = [];

  constructor(
    readonly device: GPUDevice,
    readonly label = 'distillery',
  ) {}

  get length(): number {
    return this.#recorded.length;
  }

  dispatch<V>(spec: DispatchSpec<V>): this {
    assertDeviceAlive(this.device);
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension;
    spec.workgroups.forEach((count, axis) => {
      if (count !== undefined && (!Number.isInteger(count) || count < 0 || count > limit)) {
        throw new DistilleryError(
          'E_LIMIT_EXCEEDED',
          `${spec.program.name}: workgroup count ${count} on axis ${axis} exceeds maxComputeWorkgroupsPerDimension (${limit})`,
          {
            field: 'workgroups',
            value: count,
            limit: 'maxComputeWorkgroupsPerDimension',
          },
        );
      }
    });
    const label = spec.label ?? spec.program.name;
    const entries: GPUBindGroupEntry[] = [];
    if (spec.uniforms) {
      const data = packUniforms(spec.uniforms);
      const buffer = this.device.createBuffer({
        label: `${label}:uniforms`,
        size: data.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.device.queue.writeBuffer(buffer, 0, data);
      this.#transient.push(buffer);
      entries.push({ binding: 0, resource: { buffer } });
    }
    const first = entries.length;
    spec.bindings.forEach((b, i) =>
      entries.push({ binding: first + i, resource: b instanceof GpuTensor ? { buffer: b.buffer } : 'buffer' in b ? b : { buffer: b } }),
    );
    this.#recorded.push({
      pipeline: getPipeline(this.device, spec.program, spec.variant),
      entries,
      workgroups: spec.workgroups,
      kernel: spec.program.name,
      label,
    });
    return this;
  }

  /**
   * Encodes and submits the chain. Compilation is awaited first; then bind groups, encoding and
   * the submit happen synchronously inside error scopes (when the check mode asks for them), so
   * the scopes catch this chain's errors and nothing else's.
   */
  async #run(timestampWrites?: GPUComputePassTimestampWrites, after?: (encoder: GPUCommandEncoder) => void): Promise<void> {
    const pipelines = await Promise.all(this.#recorded.map((r) => r.pipeline));
    const checked = shouldCheck(pipelines);
    if (checked) {
      this.device.pushErrorScope('out-of-memory');
      this.device.pushErrorScope('validation');
    }
    try {
      const encoder = this.device.createCommandEncoder({ label: this.label });
      const pass = encoder.beginComputePass({ label: this.label, timestampWrites });
      this.#recorded.forEach((r, i) => {
        const pipeline = pipelines[i]!;
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, this.device.createBindGroup({ label: r.label, layout: pipeline.getBindGroupLayout(0), entries: r.entries }));
        pass.dispatchWorkgroups(r.workgroups[0], r.workgroups[1] ?? 1, r.workgroups[2] ?? 1);
      });
      pass.end();
      after?.(encoder);
      this.device.queue.submit([encoder.finish()]);
    } finally {
      if (checked) {
        const validation = this.device.popErrorScope();
        const oom = this.device.popErrorScope();
        const [v, o] = await Promise.all([validation, oom]);
        const error = v
          ? gpuError(v, 'validation', this.label, this.#recorded)
          : o
            ? gpuError(o, 'out-of-memory', this.label, this.#recorded)
            : undefined;
        // eslint-disable-next-line no-unsafe-finally -- the device's error explains whatever else went wrong
        if (error) throw error;
        markChecked(pipelines);
      }
    }
  }

  #cleanup(): void {
    // Destroy is deferred by WebGPU until submitted work using the buffer has finished.
    for (const b of this.#transient) b.destroy();
    this.#transient.length = 0;
  }

  /** Submits the chain; resolves once it is queued (not finished). */
  async submit(): Promise<void> {
    try {
      await this.#run();
    } finally {
      this.#cleanup();
    }
  }

  /**
   * Submits and measures the chain's GPU time in ms: timestamp queries when the device has
   * `timestamp-query`, else wall clock around submit → onSubmittedWorkDone.
   */
  async submitTimed(): Promise<{ ms: number; source: 'timestamp' | 'wall-clock' }> {
    if (!this.device.features.has('timestamp-query')) {
      try {
        const start = performance.now();
        await this.#run();
        await this.device.queue.onSubmittedWorkDone();
        return { ms: performance.now() - start, source: 'wall-clock' };
      } finally {
        this.#cleanup();
      }
    }
    const querySet = this.device.createQuerySet({ label: `${this.label}:timestamps`, type: 'timestamp', count: 2 });
    const resolve = this.device.createBuffer({
      label: `${this.label}:timestamps`,
      size: 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const read = this.device.createBuffer({
      label: `${this.label}:timestamps-read`,
      size: 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      await this.#run({ querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 }, (encoder) => {
        encoder.resolveQuerySet(querySet, 0, 2, resolve, 0);
        encoder.copyBufferToBuffer(resolve, 0, read, 0, 16);
      });
      await read.mapAsync(GPUMapMode.READ);
      const [begin, end] = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      return { ms: Number(end! - begin!) / 1e6, source: 'timestamp' };
    } finally {
      this.#cleanup();
      querySet.destroy();
      resolve.destroy();
      read.destroy();
    }
  }
}

/** Records and submits a single dispatch. */
export async function dispatch<V>(device: GPUDevice, spec: DispatchSpec<V>): Promise<void> {
  await new CommandRecorder(device, spec.label ?? spec.program.name).dispatch(spec).submit();
}
