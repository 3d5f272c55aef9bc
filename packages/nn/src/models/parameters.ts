import { DistilleryError, deriveSeed, Rng, type HostTensor, type Parameter } from '@distillery/core';
import { readTensor, uploadTensor, zerosTensor, type GpuTensor } from '@distillery/webgpu';

export type Init = { kind: 'uniform'; bound: number } | { kind: 'normal'; std: number } | { kind: 'constant'; value: number };

/**
 * A model's named parameters, each with a gradient buffer. Initial values are drawn on the host
 * from `deriveSeed(seed, name)`, so a value depends only on the seed and the parameter's name —
 * adding a layer does not reshuffle the others.
 */
export class ParameterSet {
  readonly #params: Parameter<GpuTensor>[] = [];
  readonly #byName = new Map<string, Parameter<GpuTensor>>();

  constructor(
    readonly device: GPUDevice,
    readonly seed: number,
  ) {}

  add(name: string, shape: readonly number[], init: Init): Parameter<GpuTensor> {
    if (this.#byName.has(name)) throw new DistilleryError('E_BAD_CONFIG', `duplicate parameter name ${name}`, { field: name });
    const count = shape.reduce((a, b) => a * b, 1);
    const rng = new Rng(deriveSeed(this.seed, name));
    const data = new Float32Array(count);
    if (init.kind === 'uniform') for (let i = 0; i < count; i++) data[i] = (2 * rng.next() - 1) * init.bound;
    else if (init.kind === 'normal') for (let i = 0; i < count; i++) data[i] = rng.normal() * init.std;
    else data.fill(init.value);
    const param: Parameter<GpuTensor> = {
      name,
      value: uploadTensor(this.device, { shape, dtype: 'f32', data }, name),
      grad: zerosTensor(this.device, { shape, dtype: 'f32', label: `${name}.grad` }),
    };
    this.#params.push(param);
    this.#byName.set(name, param);
    return param;
  }

  get list(): readonly Parameter<GpuTensor>[] {
    return this.#params;
  }

  get(name: string): Parameter<GpuTensor> {
    const p = this.#byName.get(name);
    if (!p) throw new DistilleryError('E_NOT_FOUND', `no parameter named ${name}`, { field: name });
    return p;
  }

  /** Number of trainable scalars. */
  get count(): number {
    return this.#params.reduce((n, p) => n + p.value.size, 0);
  }

  zeroGrad(): void {
    const encoder = this.device.createCommandEncoder({ label: 'zero-grad' });
    for (const p of this.#params) encoder.clearBuffer(p.grad.buffer);
    this.device.queue.submit([encoder.finish()]);
  }

  async toHost(): Promise<Record<string, HostTensor>> {
    const out: Record<string, HostTensor> = {};
    for (const p of this.#params) out[p.name] = await readTensor(p.value);
    return out;
  }

  /**
   * Writes saved values into the parameters. Every parameter must be present with its exact shape
   * and finite values; extra tensors are refused too (a different architecture).
   */
  fromHost(tensors: Record<string, HostTensor>, source = 'state'): void {
    for (const p of this.#params) {
      const t = tensors[p.name];
      if (!t)
        throw new DistilleryError('E_SHAPE_MISMATCH', `${source} has no tensor ${p.name}`, {
          field: p.name,
          expected: `[${p.value.shape.join(', ')}] f32`,
        });
      if (
        t.dtype !== 'f32' ||
        t.shape.length !== p.value.shape.length ||
        t.shape.some((d, i) => d !== p.value.shape[i]) ||
        t.data.length !== p.value.size
      ) {
        throw new DistilleryError(
          'E_SHAPE_MISMATCH',
          `${source}: tensor ${p.name} is [${t.shape.join(', ')}] ${t.dtype}, the model needs [${p.value.shape.join(', ')}] f32`,
          {
            field: p.name,
            value: [...t.shape],
            expected: `[${p.value.shape.join(', ')}] f32`,
          },
        );
      }
      const data = t.data as Float32Array;
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) {
          throw new DistilleryError('E_NON_FINITE', `${source}: tensor ${p.name} holds ${data[i]} at index ${i}`, {
            field: p.name,
            tensor: p.name,
            index: i,
            value: data[i],
          });
        }
      }
    }
    const extra = Object.keys(tensors).filter((name) => !this.#byName.has(name));
    if (extra.length)
      throw new DistilleryError('E_SHAPE_MISMATCH', `${source} has tensors the model does not: ${extra.join(', ')}`, {
        field: extra[0],
        value: extra,
      });
    for (const p of this.#params) {
      const data = tensors[p.name]!.data as Float32Array;
      this.device.queue.writeBuffer(p.value.buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    }
  }

  release(): void {
    for (const p of this.#params) {
      p.value.release();
      p.grad.release();
    }
    this.#params.length = 0;
    this.#byName.clear();
  }
}
