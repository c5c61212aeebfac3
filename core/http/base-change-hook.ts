import type { ChangeSpec } from '../data/changes.ts'
import type { SecretRef } from '../properties/renderable.ts'
import { isSecretRef } from '../properties/renderable.ts'
import type { Logger } from '../util/logger.ts'
import type { ChangeHookHandler } from './master-surface.ts'
import { presented, sameSecret } from './shared-secret.ts'

/** `www.changeHooks.base`: Buildbot's `base` dialect, guarded by a shared secret. */
export interface BaseChangeHookConfig {
  /** The shared secret a caller presents (`Authorization: Bearer <secret>`, or as the Basic password). */
  secret: string | SecretRef
  /**
   * Mark the changes it stores as vouched for (`change.trusted`), so schedulers that build untrusted
   * input (the Nix plugin's pull requests) trust them. Default false.
   */
  trusted?: boolean
}

export interface BaseChangeHookDeps {
  config: BaseChangeHookConfig
  secret(name: string): Promise<string>
  addChange(spec: ChangeSpec): Promise<{ changeid: number }>
  log: Logger
}

/** Buildbot's field names (`who` and `when` are its older spellings of author and when_timestamp). */
const STRING_FIELDS = ['author', 'committer', 'comments', 'branch', 'revision', 'repository', 'project', 'codebase', 'category', 'revlink'] as const
const FIELDS = new Set<string>([...STRING_FIELDS, 'when_timestamp', 'files', 'properties', 'who', 'when', 'links'])
/** Pull-request properties the Nix plugin merges from (head merged with base as of the event). */
const REVISION_PROPS = ['base_sha', 'head_sha'] as const
const SHA = /^[0-9a-fA-F]{4,64}$/

export class HookInputError extends Error {}

/** One change from Buildbot's base-hook fields (form values are strings; JSON may use real types). */
export function changeFromFields(fields: Record<string, unknown>, at = ''): ChangeSpec {
  const where = at ? `${at}: ` : ''
  const bad = (msg: string) => new HookInputError(`${where}${msg}`)
  for (const k of Object.keys(fields)) {
    if (!FIELDS.has(k)) throw bad(`unknown field '${k}'; the base hook accepts ${[...STRING_FIELDS, 'when_timestamp', 'files', 'properties'].join(', ')}`)
  }
  const str = (k: string): string | null => {
    const v = fields[k]
    if (v == null || v === '') return null
    if (typeof v !== 'string') throw bad(`'${k}' must be a string, got ${Array.isArray(v) ? 'a list' : typeof v}`)
    return v
  }
  const author = str('author') ?? str('who')
  if (!author) throw bad("'author' is required (e.g. 'Jane Doe <jane@example.org>')")
  const json = <T>(k: string, check: (v: unknown) => v is T, what: string): T | undefined => {
    let v = fields[k]
    if (v == null || v === '') return undefined
    if (typeof v === 'string') {
      const text = v
      try { v = JSON.parse(text) } catch { throw bad(`'${k}' must be JSON (${what}), got ${JSON.stringify(text.slice(0, 60))}`) }
    }
    if (!check(v)) throw bad(`'${k}' must be ${what}`)
    return v
  }
  const files = json('files', (v): v is string[] => Array.isArray(v) && v.every((f) => typeof f === 'string'), 'a list of file names, e.g. ["src/a.c"]')
  const properties = json('properties', (v): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v), 'an object, e.g. {"pr_number": 7}') ?? {}
  let when: number | undefined
  const rawWhen = fields.when_timestamp ?? fields.when
  if (rawWhen != null && rawWhen !== '') {
    when = typeof rawWhen === 'number' ? rawWhen : typeof rawWhen === 'string' && rawWhen.trim() !== '' ? Number(rawWhen) : NaN
    if (!Number.isFinite(when) || when < 0) throw bad(`'when_timestamp' must be seconds since the epoch, got ${JSON.stringify(rawWhen)}`)
    when = Math.floor(when)
  }
  const category = str('category')
  const given = REVISION_PROPS.filter((k) => properties[k] != null && properties[k] !== '')
  if (given.length === 1) throw bad(`a pull request needs both properties 'base_sha' and 'head_sha' (the base and head revisions), got only '${given[0]}'`)
  for (const k of given) {
    if (typeof properties[k] !== 'string' || !SHA.test(properties[k] as string)) throw bad(`property '${k}' must be a commit id (hex), got ${JSON.stringify(properties[k])}`)
  }
  if (given.length && category !== 'pull') throw bad("properties 'base_sha' and 'head_sha' describe a pull request: send category 'pull' with them")
  const revision = str('revision') ?? (given.length ? properties.head_sha as string : null)
  return {
    author, committer: str('committer'), comments: str('comments') ?? '', branch: str('branch'), revision, revlink: str('revlink'),
    category, repository: str('repository') ?? '', project: str('project') ?? '', codebase: str('codebase') ?? '',
    files: files ?? [], properties, ...(when != null ? { when_timestamp: when } : {}),
  }
}

/** The request's changes: JSON (one object or a list) or form fields (body, else query string). */
export function parseBaseHookRequest(req: { headers: Record<string, string | string[] | undefined>; rawBody: Buffer; query: Record<string, string> }): ChangeSpec[] {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  const body = req.rawBody.toString('utf8')
  if (type === 'application/json') {
    let parsed: unknown
    try { parsed = JSON.parse(body) } catch (e) { throw new HookInputError(`the body is not valid JSON: ${(e as Error).message}`) }
    const list = Array.isArray(parsed) ? parsed : [parsed]
    if (!list.length) throw new HookInputError('the JSON list holds no change')
    return list.map((c, i) => {
      if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new HookInputError(`${Array.isArray(parsed) ? `change ${i}` : 'the body'} must be a JSON object of change fields`)
      return changeFromFields(c as Record<string, unknown>, Array.isArray(parsed) ? `change ${i}` : '')
    })
  }
  if (type && type !== 'application/x-www-form-urlencoded') {
    throw new HookInputError(`unsupported content type '${type}'; send application/x-www-form-urlencoded fields or application/json`)
  }
  // As Buildbot: a repeated field counts once (its first value); query and body fields both count.
  const fields: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.query)) fields[k] ??= v
  if (body.trim()) for (const [k, v] of new URLSearchParams(body)) fields[k] ??= v
  if (!Object.keys(fields).length) throw new HookInputError("no change fields; send at least 'author' (and revision, branch, repository, ...)")
  return [changeFromFields(fields)]
}

/**
 * Buildbot's `base` change hook at `/change_hook/base`: checks the shared secret (401 without it,
 * 403 when wrong), parses every change before storing any (400 and nothing stored on bad input),
 * then stores them in order. Off unless `www.changeHooks.base` is configured.
 */
export function createBaseChangeHook(deps: BaseChangeHookDeps): ChangeHookHandler {
  return {
    dialect: 'base', owner: 'core',
    async handle(req) {
      const given = presented(req.headers)
      if (given == null || given === '') {
        return { status: 401, body: 'the base change hook needs its shared secret: send `Authorization: Bearer <secret>` (or HTTP Basic with the secret as password)', headers: { 'www-authenticate': 'Basic realm="change_hook"' } }
      }
      const ref = deps.config.secret
      let expected: string
      try {
        expected = isSecretRef(ref) ? await deps.secret(ref.secretName) : ref
      } catch (err) {
        deps.log.error({ err: (err as Error).message }, "the base change hook's secret could not be read; every request is refused")
        return { status: 503, body: "the change hook's secret is not available on the master; see its log" }
      }
      if (!sameSecret(given, expected)) return { status: 403, body: 'wrong secret for the base change hook' }
      let changes: ChangeSpec[]
      try {
        changes = parseBaseHookRequest(req)
      } catch (err) {
        if (err instanceof HookInputError) return { status: 400, body: err.message }
        throw err
      }
      for (const c of changes) await deps.addChange({ ...c, trusted: deps.config.trusted === true })
      return { status: 200, body: `${changes.length} change found` }
    },
  }
}
