import { readFile } from 'node:fs/promises'

/** Hercules CI's secret condition language (no `not`, by design). */
export type SecretCondition =
  | 'isDefaultBranch' | 'isTag'
  | { isBranch: string } | { isRepo: string } | { isOwner: string }
  | { and: SecretCondition[] } | { or: SecretCondition[] }

/** One entry of a secrets file: Hercules' `{ kind: "Secret", data, condition }` (buildbot-nix's `{ data }` too). */
export interface SecretEntry { kind?: string; data: Record<string, unknown>; condition?: SecretCondition }

/** What a condition is checked against. */
export interface SecretContext {
  /** Plain branch name, or null (a tag, a pull request's merge ref). */
  branch: string | null
  tag: string | null
  isDefaultBranch: boolean
  /** Repository name without the owner. */
  repo: string
  owner: string | null
}

export class EffectSecretError extends Error {}

/** Whether a condition holds; an unknown form never does. */
export function conditionHolds(c: SecretCondition, ctx: SecretContext): boolean {
  if (c === 'isDefaultBranch') return ctx.isDefaultBranch
  if (c === 'isTag') return ctx.tag != null
  if (typeof c !== 'object' || c === null) return false
  if ('and' in c) return Array.isArray(c.and) && c.and.every((x) => conditionHolds(x, ctx))
  if ('or' in c) return Array.isArray(c.or) && c.or.some((x) => conditionHolds(x, ctx))
  if ('isBranch' in c) return ctx.branch === c.isBranch
  if ('isRepo' in c) return ctx.repo === c.isRepo
  if ('isOwner' in c) return ctx.owner === c.isOwner
  return false
}

/** Checks a condition's shape; returns what is wrong (at a JSON path) or undefined. */
function conditionError(c: unknown, at: string): string | undefined {
  if (c === 'isDefaultBranch' || c === 'isTag') return undefined
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return `${at}: expected "isDefaultBranch", "isTag" or an object with and, or, isBranch, isRepo or isOwner, got ${JSON.stringify(c)}`
  const keys = Object.keys(c)
  if (keys.length !== 1) return `${at}: an object with exactly one of and, or, isBranch, isRepo, isOwner (got ${keys.join(', ') || 'none'})`
  const [k] = keys as [string]
  const v = (c as Record<string, unknown>)[k]
  if (k === 'and' || k === 'or') {
    if (!Array.isArray(v)) return `${at}.${k}: must be a list of conditions`
    for (let i = 0; i < v.length; i++) { const e = conditionError(v[i], `${at}.${k}[${i}]`); if (e) return e }
    return undefined
  }
  if (k === 'isBranch' || k === 'isRepo' || k === 'isOwner') return typeof v === 'string' ? undefined : `${at}.${k}: must be a string`
  return `${at}: unknown condition '${k}' (known: and, or, isBranch, isRepo, isOwner, "isDefaultBranch", "isTag")`
}

/** Parses a secrets file's text; every mistake names the file and the secret. */
export function parseSecretsFile(text: string, file: string): Record<string, SecretEntry> {
  let doc: unknown
  try { doc = JSON.parse(text) } catch (e) { throw new EffectSecretError(`${file}: not valid JSON: ${(e as Error).message}`) }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new EffectSecretError(`${file}: must be a JSON object of secrets ({ "name": { "kind": "Secret", "data": { ... }, "condition": ... } })`)
  const out: Record<string, SecretEntry> = {}
  const errors: string[] = []
  for (const [name, v] of Object.entries(doc as Record<string, unknown>)) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) { errors.push(`${file}: ${name}: must be an object with "data"`); continue }
    const e = v as Record<string, unknown>
    if (typeof e.data !== 'object' || e.data === null || Array.isArray(e.data)) { errors.push(`${file}: ${name}.data: must be an object (e.g. { "token": "..." })`); continue }
    if (e.kind !== undefined && e.kind !== 'Secret') { errors.push(`${file}: ${name}.kind: must be "Secret"`); continue }
    if (e.condition !== undefined) { const ce = conditionError(e.condition, `${name}.condition`); if (ce) { errors.push(`${file}: ${ce}`); continue } }
    out[name] = { kind: e.kind as string | undefined, data: e.data as Record<string, unknown>, condition: e.condition as SecretCondition | undefined }
  }
  if (errors.length) throw new EffectSecretError(errors.join('\n'))
  return out
}

export async function readSecretsFile(file: string): Promise<Record<string, SecretEntry>> {
  let text: string
  try { text = await readFile(file, 'utf8') } catch (e) { throw new EffectSecretError(`cannot read the secrets file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`) }
  return parseSecretsFile(text, file)
}

/** An effect's `secretsMap`: sandbox name → secret name in the file, or `{ type = "GitToken"; }`. */
export type SecretsMap = Record<string, string | { type: 'GitToken' }>

export function parseSecretsMap(raw: string | undefined): SecretsMap {
  if (raw === undefined || raw === '') return {}
  let v: unknown
  try { v = JSON.parse(raw) } catch { throw new EffectSecretError(`the effect's secretsMap is not JSON (mkEffect writes it with builtins.toJSON): ${raw.slice(0, 80)}`) }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new EffectSecretError('the effect\'s secretsMap must map names to secret names or { type = "GitToken"; }')
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x === 'string') continue
    if (typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'GitToken') continue
    throw new EffectSecretError(`secretsMap.${k}: must be a secret name or { type = "GitToken"; }, got ${JSON.stringify(x)}`)
  }
  return v as SecretsMap
}

export interface SelectOptions {
  /** The secrets file's entries (none: no file for this repository). */
  available: Record<string, SecretEntry> | undefined
  /** Where they came from, for messages. */
  source: string
  map: SecretsMap
  ctx: SecretContext
  /** Untrusted builds (an outsider's pull request) get no secret at all. */
  trusted: boolean
  /** A short-lived token to push to the repository, for `GitToken` entries. */
  gitToken?(): Promise<string>
}

/** The in-sandbox secrets.json: `{ "<secretsMap key>": { "data": { ... } } }` plus `hercules-ci`. */
export type SecretsJson = Record<string, { data: Record<string, unknown> }>

/**
 * Selects what an effect may read, as Hercules does: only the secrets its `secretsMap` names,
 * each only when its `condition` holds; none in an untrusted build. Anything refused fails the
 * effect with a message naming the secret (never a value).
 */
export async function selectSecrets(o: SelectOptions): Promise<SecretsJson> {
  const out: SecretsJson = {}
  for (const [key, ref] of Object.entries(o.map)) {
    const what = typeof ref === 'string' ? `secret '${ref}' (as '${key}')` : `the GitToken '${key}'`
    if (!o.trusted) throw new EffectSecretError(`${what} is withheld: this build is untrusted (a pull request nobody vouched for), so its effects get no secrets`)
    if (typeof ref !== 'string') {
      if (!o.gitToken) throw new EffectSecretError(`${what}: no forge token is available for this repository`)
      out[key] = { data: { token: await o.gitToken() } }
      continue
    }
    const entry = o.available?.[ref]
    if (!o.available) throw new EffectSecretError(`${what}: no secrets file is configured for this repository (perRepoSecretFiles, or --secrets)`)
    if (!entry) throw new EffectSecretError(`${what} is not in ${o.source}; secrets there: ${Object.keys(o.available).join(', ') || 'none'}`)
    if (entry.condition !== undefined && !conditionHolds(entry.condition, o.ctx)) {
      throw new EffectSecretError(`${what}: its condition ${JSON.stringify(entry.condition)} does not hold here (branch ${o.ctx.branch ?? '-'}, tag ${o.ctx.tag ?? '-'}, repository ${o.ctx.owner ? `${o.ctx.owner}/` : ''}${o.ctx.repo}${o.ctx.isDefaultBranch ? ', default branch' : ''})`)
    }
    out[key] = { data: entry.data }
  }
  // Hercules adds its API token; there is no Hercules API here, so the token is a placeholder.
  out['hercules-ci'] ??= { data: { token: 'dummy' } }
  return out
}

/** Every string in the secrets (and each line of a multi-line one), longest first, to hide in logs. */
export function secretStrings(s: SecretsJson): string[] {
  const out = new Set<string>()
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.length >= 4 && v !== 'dummy') out.add(v)
      for (const line of v.split('\n')) if (line.trim().length >= 8) out.add(line)
    } else if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') Object.values(v).forEach(walk)
    else if (typeof v === 'number' && String(v).length >= 6) out.add(String(v))
  }
  for (const [k, v] of Object.entries(s)) if (k !== 'hercules-ci') walk(v.data)
  return [...out].sort((a, b) => b.length - a.length)
}

/** A writer that hides secret strings in streamed text, line by line (a partial line waits for its end). */
export function redactingWriter(secrets: string[], write: (text: string) => void): { write(text: string): void; end(): void } {
  let buf = ''
  const clean = (t: string): string => secrets.reduce((acc, s) => acc.split(s).join('<secret>'), t)
  return {
    write(text) {
      buf += text
      const nl = buf.lastIndexOf('\n')
      if (nl < 0) { if (buf.length > 64 * 1024) { write(clean(buf)); buf = '' } return }
      write(clean(buf.slice(0, nl + 1)))
      buf = buf.slice(nl + 1)
    },
    end() { if (buf) write(clean(buf)); buf = '' },
  }
}
