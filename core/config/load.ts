import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { tsImport } from 'tsx/esm/api'
import { ConfigError } from './errors.ts'
import { resolveConfig } from './resolve.ts'
import type { ResolvedConfig } from './resolved-config.ts'

/**
 * Imports `master.config.ts` with tsx (fresh on every call, so a reconfigure sees edits) and
 * resolves it. Errors name the file.
 */
export async function loadConfig(file: string): Promise<ResolvedConfig> {
  const abs = resolve(file)
  if (!existsSync(abs)) throw new ConfigError(abs, [], [`${abs}: no such file; create it (see the README) or pass --config <file>`])
  let mod: { default?: unknown }
  try {
    mod = await tsImport(pathToFileURL(abs).href, import.meta.url) as { default?: unknown }
  } catch (err) {
    const e = err as Error
    throw new ConfigError(abs, [], [`${abs}: failed to load: ${e.message.split('\n')[0]}`])
  }
  const exported = (mod.default as { default?: unknown } | undefined)?.default ?? mod.default
  return resolveConfig(exported, abs)
}
