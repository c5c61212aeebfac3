import { html, nothing, type TemplateResult } from 'lit'
import { formatEpoch, timeAgo } from '../util/format.ts'

/**
 * A moment, the same way everywhere: how long ago (`3m ago`), the absolute local time as its
 * tooltip, and `datetime` for machines. `epoch` is Buildbot's seconds since the epoch.
 */
export function timeAt(epoch: unknown, now = Date.now()): TemplateResult | typeof nothing {
  if (typeof epoch !== 'number') return nothing
  return html`<time datetime=${new Date(epoch * 1000).toISOString()} title=${formatEpoch(epoch)}>${timeAgo(epoch, now)}</time>`
}
