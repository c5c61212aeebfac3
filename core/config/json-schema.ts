import { z } from 'zod'
import { masterSchema } from './master-schema.ts'
import type { PluginDefinition } from '../plugin/plugin.ts'

type JsonSchema = Record<string, unknown> & { properties?: Record<string, unknown> }

/** One schema as JSON Schema (what a user writes: defaults not required; functions' results described, unconstrained). */
function toJson(schema: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema
  delete out.$schema
  return out
}

/**
 * JSON Schema of `defineMaster({...})` with the options of each plugin given. A plugin appears in
 * `plugins` as `{ plugin: '<name>', options: {...} }`, the data `<name>(options)` is called with
 * in `master.config.ts` (a generated config, e.g. from a NixOS module, writes that call).
 */
export function configJsonSchema(plugins: readonly PluginDefinition<unknown>[]): JsonSchema {
  const master = toJson(masterSchema)
  delete master.properties!.__master
  master.properties!.plugins = {
    type: 'array',
    description: "plugins, each called with its options in master.config.ts: plugins: [nix({ workers: ['local'], projects: [...] })]",
    items: {
      anyOf: plugins.map((d) => ({
        title: d.name,
        type: 'object',
        properties: { plugin: { const: d.name }, options: d.options ? toJson(d.options) : { description: 'not described by the plugin' } },
        required: ['plugin'],
        additionalProperties: false,
      })),
    },
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'buildbot-nix master config',
    description: 'The object master.config.ts passes to defineMaster({...}). Values made by functions (builder(), steps, schedulers, secret(), change filters) are described, not constrained.',
    ...master,
  }
}
