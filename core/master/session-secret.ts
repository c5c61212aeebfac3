import { randomBytes } from 'node:crypto'
import type { Data } from '../data/data.ts'

/** The session-cookie secret, kept in the database (as Buildbot does) so logins survive restarts. */
export async function sessionSecret(data: Data): Promise<string> {
  const id = await data.state.objectId('www', 'session')
  const existing = await data.state.getState<string | null>(id, 'secret', null)
  if (existing) return existing
  const secret = randomBytes(32).toString('hex')
  await data.state.setState(id, 'secret', secret)
  return secret
}
