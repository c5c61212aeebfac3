import type { PluginFactory } from '../core/index.ts'
import { nix } from './nix/index.ts'
import { github } from './github/index.ts'

/** The plugins that ship with buildbot-nix; `buildbot-nix config-schema` describes their options. */
export const firstPartyPlugins: PluginFactory<never, unknown>[] = [nix as PluginFactory<never, unknown>, github as PluginFactory<never, unknown>]
