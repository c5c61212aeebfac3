import { accessSync, constants, existsSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createHash } from 'node:crypto'
import { ConfigError } from './errors.ts'
import { resolveConfig } from './resolve.ts'
import type { ResolvedConfig } from './resolved-config.ts'
import { projectRoot } from '../util/project-root.ts'

/** True when this code runs from the esbuild bundle the CLI makes (not from sources under tsx). */
const runningFromBundle = () => import.meta.url.endsWith('.mjs')

/**
 * Imports `master.config.ts` (fresh on every call, so a reconfigure sees edits) and resolves it.
 * Under the CLI, the config is compiled with esbuild and its imports of buildbot-nix's core are
 * pointed at the running core bundle, so config and master share one copy of core and no
 * TypeScript loader stays in memory. Under tsx (tests), tsx imports it.
 */
export async function loadConfig(file: string): Promise<ResolvedConfig> {
  const abs = resolve(file)
  if (!existsSync(abs)) throw new ConfigError(abs, [], [`${abs}: no such file; create it (see the README) or pass --config <file>`])
  let mod: { default?: unknown }
  try {
    mod = runningFromBundle() ? await importCompiled(abs) : await importWithTsx(abs)
  } catch (err) {
    const e = err as Error
    throw new ConfigError(abs, [], [`${abs}: failed to load: ${e.message.split('\n').slice(0, 6).join('\n')}`])
  }
  const exported = (mod.default as { default?: unknown } | undefined)?.default ?? mod.default
  return resolveConfig(exported, abs)
}

/** Imports a TypeScript module that uses buildbot-nix's core as a config does (compiled under the CLI, tsx in tests). */
export async function importTsModule(abs: string): Promise<Record<string, unknown>> {
  return (runningFromBundle() ? await importCompiled(abs) : await importWithTsx(abs)) as Record<string, unknown>
}

async function importWithTsx(abs: string): Promise<{ default?: unknown }> {
  const { tsImport } = await import('tsx/esm/api')
  return tsImport(pathToFileURL(abs).href, import.meta.url) as Promise<{ default?: unknown }>
}

async function importCompiled(abs: string): Promise<{ default?: unknown }> {
  const { execFile } = await import('node:child_process')
  const root = projectRoot(import.meta.url)
  const outDir = compiledConfigDir(root)
  mkdirSync(outDir, { recursive: true })
  const out = join(outDir, `config-${createHash('sha1').update(abs).digest('hex').slice(0, 12)}-${Date.now()}.mjs`)
  await new Promise<void>((res, rej) => {
    execFile(process.execPath, [join(root, 'bin', 'compile-config.mjs'), abs, out, fileURLToPath(import.meta.url), join(root, 'core', 'index.ts')],
      (err, _stdout, stderr) => (err ? rej(new Error(stderr.trim() || err.message)) : res()))
  })
  try {
    return await import(pathToFileURL(out).href) as { default?: unknown }
  } finally {
    rmSync(out, { force: true })
  }
}

/**
 * Where compiled configs go: `BUILDBOT_NIX_CACHE_DIR` when set, else the checkout's
 * `.cache/buildbot-nix`, or, when the package is read-only (installed in the Nix store),
 * systemd's `CACHE_DIRECTORY` or a folder under the temporary directory.
 */
function compiledConfigDir(root: string): string {
  if (process.env.BUILDBOT_NIX_CACHE_DIR) return join(process.env.BUILDBOT_NIX_CACHE_DIR, 'config')
  try {
    accessSync(root, constants.W_OK)
    return join(root, '.cache', 'buildbot-nix')
  } catch {
    const dir = process.env.CACHE_DIRECTORY?.split(':')[0]
    return dir ? join(dir, 'config') : join(tmpdir(), `buildbot-nix-config-${process.getuid?.() ?? 0}`)
  }
}
