import * as z from 'zod/mini';
import { parseConfig } from './config.js';
import { DistilleryError } from './errors.js';

/** The kinds of things a plugin can provide. Open-ended: a third party may add its own kind. */
export type PluginKind = 'teacher' | 'student' | 'loss' | 'scheduler' | 'optimizer' | 'dataset' | 'callback' | (string & {});

export interface PluginContext {
  /** The registry the plugin was resolved from, so a plugin can build nested plugins. */
  registry: PluginRegistry;
  /** Anything the host passes down (a GPUDevice, a logger...). */
  [key: string]: unknown;
}

export interface PluginDefinition<Config = unknown, Product = unknown> {
  kind: PluginKind;
  name: string;
  description?: string;
  /** Validates the config (everything in the spec except `name`). */
  /** Any zod 4 schema (classic `zod` or `zod/mini`). */
  configSchema?: z.core.$ZodType<Config>;
  create(config: Config, context: PluginContext): Product | Promise<Product>;
}

/** A plugin of any config type (the registry stores plugins of many configs side by side). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- config types are erased in the registry, validated at create()
export type AnyPluginDefinition = PluginDefinition<any, unknown>;

/** Identity function that gives a plugin definition its types. */
export function definePlugin<Config, Product>(definition: PluginDefinition<Config, Product>): PluginDefinition<Config, Product> {
  if (!definition.name || typeof definition.name !== 'string') {
    throw new DistilleryError('E_BAD_CONFIG', `plugin name must be a non-empty string, got ${JSON.stringify(definition.name)}`, {
      field: 'name',
      value: definition.name,
    });
  }
  return definition;
}

/** `"cosine"` or `{ name: "cosine", from: 1, to: 0 }`. */
export type PluginSpec = string | ({ name: string } & Record<string, unknown>);

/** The plugin a spec names: `"cosine"` and `{ name: "cosine", … }` both name `cosine`. */
export const pluginName = (spec: PluginSpec): string => (typeof spec === 'string' ? spec : spec.name);

const specSchema = z.union([z.string().check(z.minLength(1)), z.looseObject({ name: z.string().check(z.minLength(1)) })]);

export class PluginRegistry {
  readonly #plugins = new Map<string, AnyPluginDefinition>();

  register(...plugins: AnyPluginDefinition[]): this {
    for (const plugin of plugins) {
      const key = `${plugin.kind}/${plugin.name}`;
      if (this.#plugins.has(key)) {
        throw new DistilleryError('E_DUPLICATE_PLUGIN', `a ${plugin.kind} plugin named "${plugin.name}" is already registered`, {
          field: 'name',
          value: plugin.name,
        });
      }
      this.#plugins.set(key, plugin);
    }
    return this;
  }

  has(kind: PluginKind, name: string): boolean {
    return this.#plugins.has(`${kind}/${name}`);
  }

  /** Registered names of one kind, sorted. */
  list(kind: PluginKind): string[] {
    return [...this.#plugins.values()]
      .filter((p) => p.kind === kind)
      .map((p) => p.name)
      .sort();
  }

  get(kind: PluginKind, name: string): AnyPluginDefinition {
    const plugin = this.#plugins.get(`${kind}/${name}`);
    if (!plugin) {
      const known = this.list(kind);
      throw new DistilleryError(
        'E_UNKNOWN_PLUGIN',
        `no ${kind} plugin named "${name}"; known ${kind} plugins: ${known.length ? known.join(', ') : '(none)'}`,
        { field: 'name', value: name, known },
      );
    }
    return plugin;
  }

  /**
   * Builds the plugin a spec names. `path` prefixes field paths in validation errors so they
   * point into the user's whole config (e.g. `schedulers.temperature.from`).
   */
  async create<Product = unknown>(
    kind: PluginKind,
    spec: unknown,
    options: { path?: string; context?: Record<string, unknown> } = {},
  ): Promise<Product> {
    const path = options.path ?? kind;
    const parsed = parseConfig(specSchema, spec, path);
    const { name, ...config } = typeof parsed === 'string' ? { name: parsed } : parsed;
    const plugin = this.get(kind, name);
    const validated = plugin.configSchema ? parseConfig(plugin.configSchema, config, path) : config;
    return (await plugin.create(validated as never, { ...options.context, registry: this })) as Product;
  }

  /**
   * Registers the plugins a package exports: `plugins` (an array), or a default export that is a
   * plugin or an array of them. This is how third-party plugins are found by package name.
   */
  async loadPackage(specifier: string, importer: (specifier: string) => Promise<unknown> = (s) => import(s)): Promise<string[]> {
    let module: Record<string, unknown>;
    try {
      module = (await importer(specifier)) as Record<string, unknown>;
    } catch (error) {
      throw new DistilleryError(
        'E_NOT_FOUND',
        `could not import plugin package "${specifier}": ${(error as Error).message}`,
        {
          field: 'plugins',
          value: specifier,
        },
        { cause: error },
      );
    }
    const exported = module.plugins ?? module.default;
    const list = (Array.isArray(exported) ? exported : [exported]).filter(isPluginDefinition);
    if (list.length === 0) {
      throw new DistilleryError(
        'E_BAD_CONFIG',
        `package "${specifier}" exports no plugins (expected \`export const plugins = [definePlugin(...)]\`)`,
        {
          field: 'plugins',
          value: specifier,
        },
      );
    }
    this.register(...list);
    return list.map((p) => `${p.kind}/${p.name}`);
  }
}

function isPluginDefinition(value: unknown): value is AnyPluginDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as PluginDefinition).kind === 'string' &&
    typeof (value as PluginDefinition).name === 'string' &&
    typeof (value as PluginDefinition).create === 'function'
  );
}
