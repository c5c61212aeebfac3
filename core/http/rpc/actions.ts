import type { Kysely } from 'kysely'
import type { Database } from '../../db/schema.ts'
import { parseJson } from '../../data/context.ts'
import { HttpError, type HttpSurface, type UserInfo } from '../master-surface.ts'
import type { PathArgs } from '../path-match.ts'
import { BUILD_PREFIXES, resolveBuildId } from '../rest/resolve.ts'
import { WORKER_SINGLE } from '../rest/workers.ts'
import { INT32_MAX, INT32_MIN, parseIntId } from '../../util/int-range.ts'

export interface ActionCtx { surface: HttpSurface; k: Kysely<Database>; args: PathArgs; params: Record<string, unknown>; user: UserInfo; owner: string }
/** Who the action concerns, for authz (builder globs, owner roles). */
export interface ActionSubject { builderNames?: string[]; owner?: string | null }

export interface ActionGroup {
  patterns: string[]
  /** Entity kind for the endpoint matchers. */
  endpoint: string
  methods: Record<string, (c: ActionCtx) => Promise<unknown>>
  subject?(c: ActionCtx): Promise<ActionSubject>
}

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : v == null ? fallback : String(v))

async function buildSubject(k: Kysely<Database>, buildid: number | undefined): Promise<ActionSubject> {
  if (buildid == null) return {}
  const row = await k.selectFrom('builds as b').innerJoin('builders as bl', 'bl.builderid', 'b.builderid')
    .innerJoin('buildrequests as br', 'br.buildrequestid', 'b.buildrequestid').innerJoin('buildsets as bs', 'bs.bsid', 'br.buildsetid')
    .select(['bl.name', 'bs.properties']).where('b.buildid', '=', buildid).executeTakeFirst()
  return row ? { builderNames: [row.name], owner: ownerProp(row.properties) } : { builderNames: [] }
}
const ownerProp = (json: string): string | null => {
  const v = parseJson<Record<string, [unknown, string]>>(json, {}).owner?.[0]
  return typeof v === 'string' ? v : null
}

async function workerId(c: ActionCtx): Promise<number> {
  let q = c.k.selectFrom('workers').select('workerid')
  q = c.args.workerid != null ? q.where('workerid', '=', Number(c.args.workerid)) : q.where('name', '=', str(c.args.name))
  const row = await q.executeTakeFirst()
  if (!row) throw new HttpError(404, `no such worker '${c.args.workerid ?? c.args.name}'`)
  return row.workerid
}
const workerAction = (action: 'stop' | 'pause' | 'unpause' | 'kill') => async (c: ActionCtx) => {
  await c.surface.control.workerAction(await workerId(c), action, str(c.params.reason, 'no reason'))
  return null
}

/** The built-in JSON-RPC actions of §1.8 (plugins add theirs through `rpcActions()`). */
export const builtinActions: ActionGroup[] = [
  {
    patterns: BUILD_PREFIXES, endpoint: 'build',
    subject: async (c) => buildSubject(c.k, await resolveBuildId(c.k, c.args)),
    methods: {
      // Buildbot answers null for an unknown build too.
      async stop(c) {
        const id = await resolveBuildId(c.k, c.args)
        if (id != null) await c.surface.control.stopBuild(id, str(c.params.reason, 'no reason'))
        return null
      },
      async rebuild(c) {
        const id = await resolveBuildId(c.k, c.args)
        if (id == null) throw new HttpError(404, 'no such build')
        return c.surface.control.rebuild(id, c.owner)
      },
    },
  },
  {
    patterns: ['buildrequests/n:buildrequestid'], endpoint: 'buildrequest',
    async subject(c) {
      const row = await c.k.selectFrom('buildrequests as br').innerJoin('builders as bl', 'bl.builderid', 'br.builderid')
        .innerJoin('buildsets as bs', 'bs.bsid', 'br.buildsetid').select(['bl.name', 'bs.properties'])
        .where('br.buildrequestid', '=', Number(c.args.buildrequestid)).executeTakeFirst()
      return row ? { builderNames: [row.name], owner: ownerProp(row.properties) } : { builderNames: [] }
    },
    methods: {
      async cancel(c) {
        await c.surface.control.cancelBuildRequest(Number(c.args.buildrequestid), str(c.params.reason, 'no reason'))
        return null
      },
      async set_priority(c) {
        const priority = parseIntId(c.params.priority)
        if (priority == null) throw new HttpError(400, `'priority' must be an integer from ${INT32_MIN} to ${INT32_MAX}`)
        await c.surface.control.setBuildRequestPriority(Number(c.args.buildrequestid), priority)
        return null
      },
    },
  },
  {
    patterns: ['forceschedulers/i:schedulername'], endpoint: 'forcescheduler',
    // The builders that will actually get requests: an empty or missing list means all of them.
    subject: async (c) => ({ builderNames: c.surface.control.forceTargets(String(c.args.schedulername), c.params) }),
    methods: {
      async force(c) {
        const name = String(c.args.schedulername)
        return c.surface.control.force(name, c.params, c.owner)
      },
    },
  },
  {
    patterns: ['schedulers/n:schedulerid', 'masters/n:masterid/schedulers/n:schedulerid'], endpoint: 'scheduler',
    methods: {
      async enable(c) {
        const v = c.params.enabled
        if (typeof v !== 'boolean') throw new HttpError(400, "'enabled' must be a boolean")
        await c.surface.control.enableScheduler(Number(c.args.schedulerid), v)
        return null
      },
    },
  },
  {
    patterns: WORKER_SINGLE, endpoint: 'worker',
    methods: { stop: workerAction('stop'), pause: workerAction('pause'), unpause: workerAction('unpause'), kill: workerAction('kill') },
  },
]
