import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BinaryCache } from './binary-cache.ts'
import { PushError } from './binary-cache.ts'
import type { AtticOptions, CachixOptions, Niks3Options, NixStoreOptions } from './options.ts'
import { runTool } from './run-tool.ts'

async function readSecretFile(file: string, what: string): Promise<string> {
  try {
    const v = (await readFile(file, 'utf8')).trim()
    if (!v) throw new PushError(`${what} file '${file}' is empty`, true)
    return v
  } catch (err) {
    if (err instanceof PushError) throw err
    throw new PushError(`cannot read the ${what} file '${file}': ${(err as Error).message}`, true)
  }
}

/**
 * Cachix: `cachix push <name> <paths…>` with `CACHIX_AUTH_TOKEN` (or `CACHIX_SIGNING_KEY` for a
 * self-signed cache) from the configured file. Cachix skips paths the cache already has.
 */
export function cachix(o: CachixOptions): BinaryCache {
  const tokenFile = o.auth && 'authToken' in o.auth ? o.auth.authToken.file : o.authTokenFile
  const keyFile = o.auth && 'signingKey' in o.auth ? o.auth.signingKey.file : o.signingKeyFile
  return {
    id: `cachix:${o.name}`,
    label: `cachix ${o.name}`,
    async push(paths, signal) {
      const env: Record<string, string> = {}
      if (keyFile) env.CACHIX_SIGNING_KEY = await readSecretFile(keyFile, 'Cachix signing key')
      if (tokenFile) env.CACHIX_AUTH_TOKEN = await readSecretFile(tokenFile, 'Cachix auth token')
      await runTool({ executable: o.executable ?? 'cachix', args: ['push', o.name, ...paths], env, signal })
    },
  }
}

/** niks3: `niks3 push <paths…>` with `NIKS3_SERVER_URL` and `NIKS3_AUTH_TOKEN_FILE` (the token never in argv). */
export function niks3(o: Niks3Options): BinaryCache {
  return {
    id: `niks3:${o.serverUrl}`,
    label: `niks3 ${new URL(o.serverUrl).host}`,
    async push(paths, signal) {
      await readSecretFile(o.authTokenFile, 'niks3 auth token')
      await runTool({ executable: o.executable ?? 'niks3', args: ['push', ...paths], env: { NIKS3_SERVER_URL: o.serverUrl, NIKS3_AUTH_TOKEN_FILE: o.authTokenFile }, signal })
    },
  }
}

const tomlString = (s: string): string => JSON.stringify(s)

/**
 * Attic: `attic push buildbot:<cache> <paths…>` with a private `XDG_CONFIG_HOME` whose
 * `attic/config.toml` names the server and its token (what `attic login` writes), so the token
 * never appears in argv and the worker user's own Attic config is left alone.
 */
export function attic(o: AtticOptions): BinaryCache {
  return {
    id: `attic:${o.endpoint}#${o.cache}`,
    label: `attic ${o.cache}`,
    async push(paths, signal) {
      const token = await readSecretFile(o.tokenFile, 'Attic token')
      const dir = await mkdtemp(join(tmpdir(), 'bbn-attic-'))
      try {
        await mkdir(join(dir, 'attic'), { mode: 0o700 })
        await writeFile(join(dir, 'attic', 'config.toml'),
          `default-server = "buildbot"\n\n[servers.buildbot]\nendpoint = ${tomlString(o.endpoint)}\ntoken = ${tomlString(token)}\n`, { mode: 0o600 })
        await runTool({ executable: o.executable ?? 'attic', args: ['push', `buildbot:${o.cache}`, ...paths], env: { XDG_CONFIG_HOME: dir }, signal })
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  }
}

/** The store URL with `secret-key=<file>` added (binary cache stores sign what they receive with it). */
export function storeUrlWithKey(url: string, secretKeyFile?: string): string {
  if (!secretKeyFile) return url
  return `${url}${url.includes('?') ? '&' : '?'}secret-key=${encodeURIComponent(secretKeyFile)}`
}

/**
 * Any Nix store: asks it which paths it lacks (`nix path-info --json --store <url>`), then
 * `nix copy --to <url> <paths…>`.
 */
export function nixStore(o: NixStoreOptions): BinaryCache {
  const to = storeUrlWithKey(o.url, o.secretKeyFile)
  return {
    id: `nix:${o.url}`,
    label: o.url.replace(/\?.*$/, ''),
    async missing(paths, signal) {
      const out = await runTool({ executable: 'nix', args: ['path-info', '--json', '--store', o.url, ...paths], signal })
      const rows = JSON.parse(out) as { path: string; valid?: boolean }[]
      const have = new Set(rows.filter((r) => r.valid !== false).map((r) => r.path))
      return paths.filter((p) => !have.has(p))
    },
    async push(paths, signal) {
      await runTool({ executable: 'nix', args: ['copy', '--to', to, ...paths], signal })
    },
  }
}
