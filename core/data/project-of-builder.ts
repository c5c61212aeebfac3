import type { Data } from './data.ts'
import type { ProjectRef } from '../http/authz/endpoint-matcher.ts'

/** The project a builder belongs to (name, forge owner, forge), or null; for authz targets. */
export async function projectOfBuilder(data: Data, builderName: string): Promise<ProjectRef | null> {
  const row = await data.db.k.selectFrom('builders as b').innerJoin('projects as p', 'p.projectid', 'b.projectid')
    .select(['p.name', 'p.owner', 'p.forge']).where('b.name', '=', builderName).executeTakeFirst()
  return row ? { name: row.name, owner: row.owner ?? null, forge: row.forge ?? null } : null
}
