import { sendOutcomeOf, statusReporter, type StatusReporter } from '../../core/index.ts'
import type { GiteaApi } from './gitea-api.ts'

/**
 * Commit statuses on the Gitea instance the project came from, through core's outbox (stored
 * first, newest state per commit and context, retried with backoff, `Retry-After` honoured).
 * `repository` is the project's `owner/repo`.
 */
export function giteaStatusReporter(api: () => GiteaApi | undefined): StatusReporter {
  return statusReporter({
    name: 'gitea-statuses',
    async send(u, signal) {
      const a = api()
      if (!a) return { error: 'the gitea plugin is not running' }
      const [owner, ...rest] = u.repository.split('/')
      const path = `/repos/${encodeURIComponent(owner!)}/${encodeURIComponent(rest.join('/'))}/statuses/${u.revision}`
      const body = { state: u.state, context: u.context, description: (u.description ?? '').slice(0, 255), target_url: u.targetUrl }
      let res: Response
      try { res = await a.raw('POST', path, body, signal) } catch (err) { return { error: (err as Error).message } }
      return sendOutcomeOf(res)
    },
  })
}
