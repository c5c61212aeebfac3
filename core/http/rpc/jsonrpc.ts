import { unavailableStorage } from '../../db/storage-error.ts'
import { ForceValidationError, HttpError, type HttpSurface, type RpcAction, type UserInfo } from '../master-surface.ts'
import { PathTable, type PathArgs } from '../path-match.ts'
import type { Authz } from '../authz/authz.ts'
import type { AuthzTarget } from '../authz/endpoint-matcher.ts'
import { ForbiddenError } from '../authz/authz.ts'
import { ownerOf } from '../authz/role-matcher.ts'
import { jsonShapeError } from '../json-shape.ts'
import { builtinActions, type ActionCtx, type ActionGroup } from './actions.ts'

export interface RpcAnswer { status: number; body: string }

const err = (status: number, code: number, message: unknown, id?: unknown): RpcAnswer => ({
  status,
  body: JSON.stringify(id === undefined ? { jsonrpc: '2.0', error: { code, message } } : { jsonrpc: '2.0', id, error: { code, message } }, null, 1),
})

/** Python's repr of an exception, as Buildbot puts it in -32603 answers. */
const repr = (e: unknown) => e instanceof Error ? `${e.name}(${JSON.stringify(e.message)})` : String(e)

type Decoded = { ok: true; method: string; params: Record<string, unknown>; id: unknown } | { ok: false; answer: RpcAnswer }

/** Buildbot's `decodeJsonRPC2`: all four keys required, params an object, no batches. */
export function decodeJsonRpc(contentType: string | undefined, body: Buffer): Decoded {
  if ((contentType ?? '').split(';')[0]!.trim().toLowerCase() !== 'application/json') {
    return { ok: false, answer: err(400, -32600, 'Invalid content-type (use application/json)') }
  }
  let data: unknown
  try { data = JSON.parse(body.toString('utf8')) } catch (e) {
    return { ok: false, answer: err(400, -32700, `JSON parse error: ${(e as Error).message}`) }
  }
  if (Array.isArray(data)) return { ok: false, answer: err(400, -32600, 'JSONRPC batch requests are not supported') }
  if (typeof data !== 'object' || data === null) return { ok: false, answer: err(400, -32600, 'JSONRPC request must be an object') }
  const d = data as Record<string, unknown>
  const checks: [string, (v: unknown) => boolean, string][] = [
    ['jsonrpc', (v) => typeof v === 'string', 'str'], ['method', (v) => typeof v === 'string', 'str'],
    ['params', (v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'dict'],
    ['id', (v) => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)), 'str, int or null'],
  ]
  for (const [key, ok, type] of checks) {
    if (!(key in d)) return { ok: false, answer: err(400, -32600, `missing key '${key}'`, d.id ?? null) }
    if (!ok(d[key])) return { ok: false, answer: err(400, -32600, `'${key}' must be ${type}`, d.id ?? null) }
  }
  if (d.jsonrpc !== '2.0') return { ok: false, answer: err(400, -32600, 'only JSONRPC 2.0 is supported', d.id) }
  const bad = jsonShapeError(d.params)
  if (bad) return { ok: false, answer: err(400, -32602, `invalid params: ${bad}`, d.id) }
  return { ok: true, method: d.method as string, params: d.params as Record<string, unknown>, id: d.id }
}

type Candidate = { group: ActionGroup } | { plugin: RpcAction }

/** POST side of `/api/v2`: JSON-RPC 2.0 control actions, each through authz. */
export function createRpcHandler(opts: { surface: HttpSurface; pathExists(segments: readonly string[]): boolean }) {
  const { surface } = opts
  const builtin: { table: PathTable<ActionGroup> }[] = builtinActions.map((g) => {
    const table = new PathTable<ActionGroup>()
    for (const p of g.patterns) table.add(p, g)
    return { table }
  })

  function candidates(segments: readonly string[]): { c: Candidate; args: PathArgs }[] {
    const out: { c: Candidate; args: PathArgs }[] = []
    for (const b of builtin) {
      const m = b.table.find(segments)
      if (m) out.push({ c: { group: m.value }, args: m.args })
    }
    for (const a of surface.rpcActions()) {
      const m = new PathTable<RpcAction>().add(a.path, a).find(segments)
      if (m) out.push({ c: { plugin: a }, args: m.args })
    }
    return out
  }

  /**
   * One check per builder concerned, each with its project, so a role a matcher grants on one
   * project never covers another project's builders in the same request.
   */
  async function assertAllowed(authz: Authz, target: AuthzTarget, user: UserInfo): Promise<void> {
    const names = target.builderNames
    if (!names?.length) return authz.assertAllowed({ ...target, project: null }, user)
    for (const name of names) await authz.assertAllowed({ ...target, builderNames: [name], project: await surface.projectOf(name) }, user)
  }

  return async function handle(segments: readonly string[], contentType: string | undefined, body: Buffer, user: UserInfo, authz: Authz): Promise<RpcAnswer> {
    const dec = decodeJsonRpc(contentType, body)
    if (!dec.ok) return dec.answer
    const { method, id } = dec
    const owner = ownerOf(user)
    const params = { ...dec.params, owner }
    const found = candidates(segments)
    const hit = found.find(({ c }) => ('group' in c ? Object.hasOwn(c.group.methods, method) : c.plugin.method === method))
    if (!hit) {
      if (!found.length && !opts.pathExists(segments)) return err(404, -32600, `Invalid path: ${segments.join('/')}`, id)
      return err(501, -32601, `action: ${method} is not supported`, id)
    }
    try {
      const ctx: ActionCtx = { surface, k: surface.data.db.k, args: hit.args, params, user, owner }
      let result: unknown
      if ('group' in hit.c) {
        const g = hit.c.group
        const subject = g.subject ? await g.subject(ctx) : {}
        await assertAllowed(authz, { action: method, endpoint: g.endpoint, ...subject }, user)
        result = await g.methods[method]!(ctx)
      } else {
        const a = hit.c.plugin
        await assertAllowed(authz, { action: method, endpoint: segments[0], authzAction: a.authzAction }, user)
        result = await a.handler({ params, path: hit.args, user })
      }
      return { status: 200, body: JSON.stringify({ id, jsonrpc: '2.0', result: result ?? null }) }
    } catch (e) {
      if (e instanceof ForbiddenError) return err(403, -32600, e.message, id)
      if (e instanceof ForceValidationError) return err(400, -32602, e.fields, id)
      if (e instanceof HttpError) return err(e.status, e.status === 400 ? -32602 : -32600, e.message, id)
      const unavailable = unavailableStorage(e)
      if (unavailable) {
        surface.log.error({ err: (e as Error).message, path: segments.join('/'), method }, `control action refused: ${unavailable.message}`)
        return err(503, -32603, unavailable.message, id)
      }
      surface.log.error({ err: e, path: segments.join('/'), method }, 'control action failed')
      return err(500, -32603, repr(e), id)
    }
  }
}
