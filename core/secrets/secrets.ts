import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Where `secret('name')` values come from. */
export interface SecretsProvider {
  readonly kind: 'secrets'
  readonly description: string
  get(name: string): Promise<string | undefined>
}

/** One file per secret in a directory (Buildbot's SecretInAFile); trailing newlines are stripped. */
export function secretsFromDir(dir: string): SecretsProvider {
  return {
    kind: 'secrets', description: `directory ${dir}`,
    async get(name) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) return undefined
      try { return (await readFile(join(dir, name), 'utf8')).replace(/\r?\n$/, '') } catch { return undefined }
    },
  }
}

/** Environment variables: `secret('github-token')` reads `<prefix>GITHUB_TOKEN`. */
export function secretsFromEnv(prefix = 'BUILDBOT_SECRET_'): SecretsProvider {
  return {
    kind: 'secrets', description: `environment variables ${prefix}*`,
    async get(name) { return process.env[prefix + name.toUpperCase().replace(/[^A-Z0-9]/g, '_')] },
  }
}

/** Fixed values, for tests and small set-ups. */
export function secretsFromObject(values: Record<string, string>): SecretsProvider {
  return { kind: 'secrets', description: 'inline values', async get(name) { return values[name] } }
}

/**
 * Raised when an untrusted build asks for a secret: the step fails with this message, which names
 * the secret and says why (never its value: the secret is not even looked up).
 */
export class SecretWithheldError extends Error {
  readonly code = 'ERR_SECRET_WITHHELD'
  constructor(readonly secretName: string) {
    super(`secret '${secretName}' is withheld: this build is untrusted (its source was not vouched for, e.g. a pull request from outside), and secrets resolve only in trusted builds`)
    this.name = 'SecretWithheldError'
  }
}
export const isSecretWithheld = (err: unknown): err is SecretWithheldError =>
  err instanceof Error && (err as Partial<SecretWithheldError>).code === 'ERR_SECRET_WITHHELD'

/** The shortest start of a secret at the end of a text that is taken for a cut secret. */
const CUT_PREFIX_MIN = 6

/** Resolves secrets through the providers in order and remembers values so they can be redacted. */
export class SecretResolver {
  private readonly seen = new Set<string>()
  constructor(private providers: readonly SecretsProvider[]) {}
  setProviders(p: readonly SecretsProvider[]) { this.providers = p }
  async get(name: string): Promise<string> {
    for (const p of this.providers) {
      const v = await p.get(name)
      if (v != null) { if (v.length >= 4) this.seen.add(v); return v }
    }
    throw new Error(`secret '${name}' was not found (looked in: ${this.providers.map((p) => p.description).join(', ') || 'no secrets providers configured'}); add it to one of them or configure 'secretsProviders'`)
  }
  /** Redacts `value` from now on (a credential that did not come from a provider, e.g. read from a file by a plugin). */
  remember(value: string): void { if (value.length >= 4) this.seen.add(value) }
  values(): Iterable<string> { return this.seen }
  /**
   * `text` with every remembered value replaced by `<secret>`; a text that ends with the first
   * characters of a value (at least 6: a state string or message cut short) loses them too.
   */
  redact(text: string): string {
    let out = text
    for (const s of this.seen) if (out.includes(s)) out = out.split(s).join('<secret>')
    for (const s of this.seen) {
      for (let n = Math.min(s.length - 1, out.length); n >= CUT_PREFIX_MIN; n--) {
        if (out.endsWith(s.slice(0, n))) { out = `${out.slice(0, out.length - n)}<secret>`; break }
      }
    }
    return out
  }
}

/** `value` with `redact` applied to every string in it (arrays and plain objects too). */
export function redactDeep(value: unknown, redact: (s: string) => string): unknown {
  if (typeof value === 'string') return redact(value)
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact))
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, redact)]))
  }
  return value
}
