import type { PluginFactory } from '../core/index.ts'
import { nix } from './nix/index.ts'
import { gitea } from './gitea/index.ts'
import { pullBased } from './pull-based/index.ts'
import { github } from './github/index.ts'
import { auth } from './auth/index.ts'
import { oauth2Proxy } from './auth-oauth2-proxy/index.ts'
import { effects } from './effects/index.ts'
import { binaryCaches } from './cachix/index.ts'

/** The plugins that ship with buildbot-nix; `buildbot-nix config-schema` describes their options. */
export const firstPartyPlugins: PluginFactory<never, unknown>[] = [
  nix as PluginFactory<never, unknown>,
  gitea as PluginFactory<never, unknown>,
  pullBased as PluginFactory<never, unknown>,
  github as PluginFactory<never, unknown>,
  auth as PluginFactory<never, unknown>,
  oauth2Proxy as PluginFactory<never, unknown>,
  effects as PluginFactory<never, unknown>,
  binaryCaches as PluginFactory<never, unknown>,
]
