/**
 * Values computed at build time from properties and secrets: `interpolate('%(prop:attr)s')`,
 * `property('name', fallback)`, `secret('name')`, `renderer(fn)`.
 */
export interface RenderContext {
  getProperty(name: string): unknown
  hasProperty(name: string): boolean
  /**
   * Resolves a secret. In a build this refuses (SecretWithheldError) when the build is untrusted,
   * unless the reference says the secret may be used there (`allowUntrusted`).
   */
  secret(name: string, opts?: SecretOptions): Promise<string>
  /** Source stamp fields of a codebase (`%(src::branch)s`). */
  source(codebase: string, attr: string): unknown
  /** Keyword args given at render (`%(kw:x)s`). */
  kw?: Record<string, unknown>
}

export interface Renderable<T = unknown> {
  readonly __renderable: true
  render(ctx: RenderContext): Promise<T>
  toString(): string
}

export const isRenderable = (v: unknown): v is Renderable => typeof v === 'object' && v !== null && (v as Renderable).__renderable === true

export interface SecretOptions {
  /**
   * Resolve it in untrusted builds too (pull requests nobody vouched for). Only for secrets whose
   * disclosure to such a build is acceptable, such as a read-only clone token.
   */
  allowUntrusted?: boolean
}

/** A secret reference: resolved late, by the configured secrets providers, and never logged. */
export interface SecretRef extends Renderable<string> { readonly secretName: string; readonly allowUntrusted: boolean }

/** `secret('name')`: resolved in trusted builds only (and master-side: worker passwords, reporters, hooks). */
export function secret(name: string, opts: SecretOptions = {}): SecretRef {
  const allowUntrusted = opts.allowUntrusted === true
  return {
    __renderable: true, secretName: name, allowUntrusted, render: (ctx) => ctx.secret(name, allowUntrusted ? { allowUntrusted } : undefined),
    toString: () => (allowUntrusted ? `secret('${name}', { allowUntrusted: true })` : `secret('${name}')`),
  }
}
export const isSecretRef = (v: unknown): v is SecretRef => isRenderable(v) && typeof (v as SecretRef).secretName === 'string'

export function property<T = unknown>(name: string, fallback?: T): Renderable<T> {
  return {
    __renderable: true,
    render: async (ctx) => (ctx.hasProperty(name) ? ctx.getProperty(name) : fallback) as T,
    toString: () => `property('${name}')`,
  }
}

export function renderer<T>(fn: (ctx: RenderContext) => T | Promise<T>): Renderable<T> {
  return { __renderable: true, render: async (ctx) => fn(ctx), toString: () => 'renderer(...)' }
}

const PATTERN = /%\((prop|src|kw|secret|worker):([^)]*)\)s/g

/**
 * Buildbot's Interpolate: `%(prop:name)s`, `%(prop:name:-default)s`, `%(prop:name:+ifset)s`,
 * `%(src:codebase:attr)s`, `%(kw:name)s`, `%(secret:name)s`.
 */
export function interpolate(format: string): Renderable<string> {
  return {
    __renderable: true,
    toString: () => `interpolate(${JSON.stringify(format)})`,
    async render(ctx) {
      const parts: Promise<string>[] = []
      let last = 0
      for (const m of format.matchAll(PATTERN)) {
        parts.push(Promise.resolve(format.slice(last, m.index)))
        parts.push(expand(m[1]!, m[2]!, ctx))
        last = m.index! + m[0].length
      }
      parts.push(Promise.resolve(format.slice(last)))
      return (await Promise.all(parts)).join('')
    },
  }
}

async function expand(kind: string, spec: string, ctx: RenderContext): Promise<string> {
  if (kind === 'secret') return ctx.secret(spec)
  let name = spec
  let op: string | undefined
  let alt = ''
  if (kind === 'src') {
    const [codebase, attr] = spec.split(':')
    return str(ctx.source(codebase ?? '', attr ?? ''))
  }
  const m = /^([^:]*):([-+~])(.*)$/.exec(spec)
  if (m) { name = m[1]!; op = m[2]; alt = m[3]! }
  const has = kind === 'kw' ? ctx.kw != null && name in ctx.kw : ctx.hasProperty(name)
  const value = kind === 'kw' ? ctx.kw?.[name] : ctx.getProperty(name)
  if (op === '-') return has ? str(value) : alt
  if (op === '~') return has && value ? str(value) : alt
  if (op === '+') return has ? alt : ''
  return has ? str(value) : ''
}

const str = (v: unknown): string => (v == null ? '' : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v))

/** Renders a value deeply: renderables inside arrays and plain objects are rendered too. */
export async function renderDeep<T>(value: T, ctx: RenderContext): Promise<unknown> {
  if (isRenderable(value)) return value.render(ctx)
  if (Array.isArray(value)) return Promise.all(value.map((v) => renderDeep(v, ctx)))
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = await renderDeep(v, ctx)
    return out
  }
  return value
}
