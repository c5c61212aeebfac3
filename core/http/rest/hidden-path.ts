import type { Kysely } from 'kysely'
import type { Database } from '../../db/schema.ts'
import { buildsetHidden, sourceHidden, type Hidden, type OwnershipIndex } from '../visibility.ts'

const id = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined)

/**
 * Whether a REST path names something of a hidden project: the project itself, one of its
 * builders (by id or name), a build, build request, step or log of such a builder, or a change,
 * sourcestamp or buildset of its repository or builders. Such a path answers 404, as if it did
 * not exist.
 */
export async function pathHidden(k: Kysely<Database>, segments: readonly string[], hidden: Hidden, index: OwnershipIndex): Promise<boolean> {
  for (let i = 0; i + 1 < segments.length; i++) {
    const kind = segments[i]!, ref = segments[i + 1]!, n = id(ref)
    switch (kind) {
      case 'projects': {
        const pid = n ?? (await k.selectFrom('projects').select('projectid').where('name', '=', ref).executeTakeFirst())?.projectid
        if (pid !== undefined && hidden.projects.has(pid)) return true
        break
      }
      case 'builders': {
        const bid = n ?? (await k.selectFrom('builders').select('builderid').where('name', '=', ref).executeTakeFirst())?.builderid
        if (bid !== undefined && hidden.builders.has(bid)) return true
        break
      }
      case 'buildrequests': {
        if (n === undefined) break
        const bid = (await k.selectFrom('buildrequests').select('builderid').where('buildrequestid', '=', n).executeTakeFirst())?.builderid
        if (bid !== undefined && hidden.builders.has(bid)) return true
        break
      }
      case 'changes': {
        if (n === undefined) break
        const row = await k.selectFrom('changes').select(['project', 'repository']).where('changeid', '=', n).executeTakeFirst()
        if (row && sourceHidden(hidden, row)) return true
        break
      }
      case 'sourcestamps': {
        if (n === undefined) break
        const row = await k.selectFrom('sourcestamps').select(['project', 'repository']).where('ssid', '=', n).executeTakeFirst()
        if (row && sourceHidden(hidden, row)) return true
        break
      }
      case 'buildsets': {
        if (n === undefined) break
        const stamps = await k.selectFrom('buildset_sourcestamps as b').innerJoin('sourcestamps as s', 's.ssid', 'b.sourcestampid')
          .select(['s.project', 's.repository']).where('b.buildsetid', '=', n).execute()
        if (stamps.some((r) => sourceHidden(hidden, r))) return true
        const parent = (await k.selectFrom('buildsets').select('parent_buildid').where('bsid', '=', n).executeTakeFirst())?.parent_buildid ?? null
        await index.resolveBuildsets([n])
        if (parent != null) await index.resolveBuilder(['builds', String(parent)], undefined)
        if (buildsetHidden(hidden, { bsid: n, parent_buildid: parent }, index)) return true
        break
      }
      case 'builds': case 'steps': case 'logs': {
        // Under builders/<b>/builds/<number> the number is not an id; the builder was checked.
        if (n === undefined || (kind === 'builds' && segments[i - 2] === 'builders')) break
        if ((kind === 'steps' && segments[i - 2] === 'builds') || (kind === 'logs' && segments[i - 2] === 'steps')) break
        const bid = await index.resolveBuilder([kind, String(n)], undefined)
        if (bid !== undefined && hidden.builders.has(bid)) return true
        break
      }
    }
  }
  return false
}
