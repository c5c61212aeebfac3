import type { Kysely } from 'kysely'
import type { Database } from '../../db/schema.ts'
import type { Hidden, OwnershipIndex } from '../visibility.ts'

const id = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined)

/**
 * Whether a REST path names something of a hidden project: the project itself, one of its
 * builders (by id or name), or a build, build request, step or log of such a builder. Such a
 * path answers 404, as if it did not exist.
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
