import type { Kysely } from 'kysely'
import type { NixTables } from './jobs-store.ts'

/** Which build produced the output of an attribute an evaluation skipped as already built. */
export interface NixBuiltBy {
  attr: string
  out_path: string
  /** The check's build that built this output, and the evaluation that triggered it. */
  buildid: number
  builderid: number | null
  number: number | null
  eval_buildid: number
}

/**
 * For each attribute of an evaluation skipped as already built, the newest successful build of the
 * same output path in the plugin's own history; attributes built outside this master are left out.
 */
export async function readBuiltBy(db: Kysely<NixTables>, evalBuildid: number): Promise<NixBuiltBy[]> {
  const skipped = await db.selectFrom('nix_jobs').select(['attr', 'out_path'])
    .where('buildid', '=', evalBuildid).where('state', '=', 'skipped').where('out_path', 'is not', null).execute()
  const attrsOf = new Map<string, string[]>()
  for (const s of skipped) attrsOf.set(s.out_path!, [...(attrsOf.get(s.out_path!) ?? []), s.attr])
  const out: NixBuiltBy[] = []
  const paths = [...attrsOf.keys()]
  for (let i = 0; i < paths.length; i += 500) {
    const rows = await db.selectFrom('nix_jobs').select(['out_path', 'child_buildid', 'child_builderid', 'child_number', 'buildid'])
      .where('out_path', 'in', paths.slice(i, i + 500)).where('state', '=', 'success').where('child_buildid', 'is not', null)
      .orderBy('jobid', 'desc').execute()
    const seen = new Set<string>()
    for (const r of rows) {
      if (seen.has(r.out_path!)) continue
      seen.add(r.out_path!)
      for (const attr of attrsOf.get(r.out_path!)!) {
        out.push({ attr, out_path: r.out_path!, buildid: Number(r.child_buildid), builderid: r.child_builderid == null ? null : Number(r.child_builderid),
          number: r.child_number == null ? null : Number(r.child_number), eval_buildid: Number(r.buildid) })
      }
    }
  }
  return out
}
