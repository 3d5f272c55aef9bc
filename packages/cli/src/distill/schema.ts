import type { AnyPluginDefinition, PluginKind, PluginRegistry } from '@distillery/core';
import { z } from 'zod';
import { distillConfigSchema } from './config.js';

type JsonSchema = Record<string, unknown>;

function pluginAlternatives(
  registry: PluginRegistry,
  kind: PluginKind,
  definitions: (kind: PluginKind, name: string) => AnyPluginDefinition,
): JsonSchema {
  const names = registry.list(kind);
  const alternatives: JsonSchema[] = [{ type: 'string', description: `a ${kind} plugin by name (built in: ${names.join(', ')})` }];
  for (const name of names) {
    const plugin = definitions(kind, name);
    let settings: JsonSchema = { type: 'object' };
    try {
      if (plugin.configSchema) settings = z.toJSONSchema(plugin.configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    } catch {
      // A schema JSON Schema cannot express: editors still complete the name.
    }
    const { $schema: _drop, ...rest } = settings;
    const properties = {
      name: { const: name, description: plugin.description ?? '' },
      ...((rest.properties as JsonSchema | undefined) ?? {}),
    };
    alternatives.push({ ...rest, type: 'object', properties, required: ['name', ...((rest.required as string[] | undefined) ?? [])] });
  }
  alternatives.push({
    type: 'object',
    properties: { name: { type: 'string', description: 'a plugin a package in `plugins` adds' } },
    required: ['name'],
  });
  return { anyOf: alternatives };
}

/**
 * The JSON Schema of a `distillery distill` config, from the zod schema, with every built-in
 * plugin's settings spelled out so editors complete them. Committed as packages/cli/distill.schema.json.
 */
export function distillJsonSchema(registry: PluginRegistry): JsonSchema {
  const schema = z.toJSONSchema(distillConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema & {
    properties: Record<string, JsonSchema>;
  };
  const get = (kind: PluginKind, name: string) => registry.get(kind, name);
  const props = schema.properties;
  const data = props.data as { properties: Record<string, JsonSchema> };
  data.properties.train = { ...pluginAlternatives(registry, 'dataset', get), description: 'the transfer set: a dataset plugin' };
  data.properties.validation = {
    ...pluginAlternatives(registry, 'dataset', get),
    description: 'held-out data evaluated after every epoch',
  };
  props.teacher = { ...pluginAlternatives(registry, 'teacher', get), description: (props.teacher as JsonSchema).description };
  props.student = { ...pluginAlternatives(registry, 'student', get), description: (props.student as JsonSchema).description };
  props.callbacks = {
    type: 'array',
    items: pluginAlternatives(registry, 'callback', get),
    description: (props.callbacks as JsonSchema).description,
  };
  return {
    ...schema,
    $id: 'https://github.com/distillery-kd/distillery/packages/cli/distill.schema.json',
    title: 'distillery distill config',
  };
}
