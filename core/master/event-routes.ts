import type { Bus } from '../bus/bus.ts'
import type { BuildRequestEntity } from '../data/buildrequests.ts'
import type { ChangeEntity } from '../data/changes.ts'
import type { BuildRequestDistributor } from '../process/build-request-distributor.ts'
import type { SchedulerHost } from '../scheduler-host.ts'
import type { Logger } from '../util/logger.ts'

/**
 * New and unclaimed requests go to the distributor (also those of other masters: every master
 * competes for them), new changes of this master to its schedulers.
 */
export function routeEvents(deps: { bus: Bus; log: Logger; brd: BuildRequestDistributor; schedulers: SchedulerHost }): () => void {
  const { bus, log, brd, schedulers } = deps
  const failed = (e: unknown) => log.error({ err: String(e) }, 'queueing a request failed')
  const subs = [
    bus.subscribe(['buildrequests', null, 'new'], (_k, m) => void brd.onRequest(m as BuildRequestEntity, true).catch(failed)),
    bus.subscribe(['buildrequests', null, 'unclaimed'], (_k, m) => void brd.onRequest(m as BuildRequestEntity, false).catch(failed)),
    // A request another master claimed or completed leaves this master's queues at once.
    bus.subscribe(['buildrequests', null, 'claimed'], (_k, m) => { const e = m as BuildRequestEntity; brd.onRequestGone(e.buildrequestid, e.builderid) }),
    // Each master's schedulers see the changes that master stored (another master's schedulers handle its own).
    bus.subscribe(['changes', null, 'new'], (_k, m) => void schedulers.onChange(m as ChangeEntity).catch((e: unknown) => log.error({ err: String(e) }, 'handing a change to the schedulers failed')), { localOnly: true }),
  ]
  return () => { for (const s of subs) s.unsubscribe() }
}
