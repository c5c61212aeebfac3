import type { Kysely } from 'kysely'
import type { Database } from '../../db/schema.ts'
import type { PathArgs } from '../path-match.ts'

/**
 * Turns the many ways a path can name a build, step or log (by id, by builder + number, by
 * step name or number, by log slug) into the row id; undefined when nothing matches.
 */
export async function resolveBuilderId(k: Kysely<Database>, args: PathArgs): Promise<number | undefined> {
  if (args.builderid != null) return Number(args.builderid)
  if (args.buildername == null) return undefined
  const row = await k.selectFrom('builders').select('builderid').where('name', '=', String(args.buildername)).executeTakeFirst()
  return row?.builderid
}

export async function resolveBuildId(k: Kysely<Database>, args: PathArgs): Promise<number | undefined> {
  if (args.buildid != null) return Number(args.buildid)
  const builderid = await resolveBuilderId(k, args)
  if (builderid == null || args.build_number == null) return undefined
  const row = await k.selectFrom('builds').select('buildid').where('builderid', '=', builderid).where('number', '=', Number(args.build_number)).executeTakeFirst()
  return row?.buildid
}

export async function resolveStepId(k: Kysely<Database>, args: PathArgs): Promise<number | undefined> {
  if (args.stepid != null) return Number(args.stepid)
  const buildid = await resolveBuildId(k, args)
  if (buildid == null) return undefined
  let q = k.selectFrom('steps').select('stepid').where('buildid', '=', buildid)
  if (args.step_name != null) q = q.where('name', '=', String(args.step_name))
  else if (args.step_number != null) q = q.where('number', '=', Number(args.step_number))
  else return undefined
  return (await q.executeTakeFirst())?.stepid
}

export async function resolveLogId(k: Kysely<Database>, args: PathArgs): Promise<number | undefined> {
  if (args.logid != null) return Number(args.logid)
  const stepid = await resolveStepId(k, args)
  if (stepid == null || args.log_slug == null) return undefined
  return (await k.selectFrom('logs').select('logid').where('stepid', '=', stepid).where('slug', '=', String(args.log_slug)).executeTakeFirst())?.logid
}

/** The `{b}` builder prefixes of §1.7: by id and by name. */
export const BUILDER_PREFIXES = ['builders/n:builderid', 'builders/s:buildername']
/** Every way to name one build. */
export const BUILD_PREFIXES = ['builds/n:buildid', ...BUILDER_PREFIXES.map((b) => `${b}/builds/n:build_number`)]
/** Every way to name one step. */
export const STEP_PREFIXES = ['steps/n:stepid', ...BUILD_PREFIXES.flatMap((b) => [`${b}/steps/i:step_name`, `${b}/steps/n:step_number`])]
