/**
 * Publish/subscribe on routing-key tuples. Keys are Buildbot's (`['builds', '12', 'finished']`);
 * a pattern segment `*` (or null) matches exactly one segment, and lengths must be equal.
 * Publishing never waits for subscribers and never throws because of one.
 */
export type RoutingKey = readonly string[]
export type BusHandler = (key: RoutingKey, message: unknown) => void
export interface Subscription { unsubscribe(): void }
export interface SubscribeOptions {
  /**
   * Only events published on this master, not those other masters sharing the database sent
   * (e.g. a scheduler acts on the changes its own master stored; a status reporter reports the
   * builds its master runs).
   */
  localOnly?: boolean
}

interface Entry { pattern: readonly (string | null)[]; handler: BusHandler; localOnly: boolean }

export class Bus {
  /** Subscriptions indexed by pattern length, then by first segment ('*' for wildcards). */
  private readonly byLength = new Map<number, Map<string, Set<Entry>>>()
  private readonly onError: (err: unknown, key: RoutingKey) => void

  constructor(opts: { onError?: (err: unknown, key: RoutingKey) => void } = {}) {
    this.onError = opts.onError ?? (() => {})
  }

  /** Sees every event published here (not those delivered from other masters): the cross-master bridge. */
  private readonly taps = new Set<BusHandler>()

  subscribe(pattern: readonly (string | null)[] | string, handler: BusHandler, opts: SubscribeOptions = {}): Subscription {
    const pat = typeof pattern === 'string' ? pattern.split('/') : pattern
    const norm = pat.map((s) => (s === '*' ? null : s))
    const entry: Entry = { pattern: norm, handler, localOnly: opts.localOnly === true }
    let byFirst = this.byLength.get(norm.length)
    if (!byFirst) this.byLength.set(norm.length, (byFirst = new Map()))
    const first = norm[0] ?? '*'
    let set = byFirst.get(first)
    if (!set) byFirst.set(first, (set = new Set()))
    set.add(entry)
    return { unsubscribe: () => { set!.delete(entry) } }
  }

  publish(key: RoutingKey, message: unknown): void {
    this.route(key, message, false)
    for (const t of this.taps) {
      try { t(key, message) } catch (err) { this.onError(err, key) }
    }
  }

  /** Delivers an event another master published (skipping `localOnly` subscribers and taps). */
  deliverRemote(key: RoutingKey, message: unknown): void {
    this.route(key, message, true)
  }

  /** Sees every event published on this bus, in order; not those from `deliverRemote`. */
  tap(handler: BusHandler): Subscription {
    this.taps.add(handler)
    return { unsubscribe: () => { this.taps.delete(handler) } }
  }

  private route(key: RoutingKey, message: unknown, remote: boolean): void {
    const byFirst = this.byLength.get(key.length)
    if (!byFirst) return
    this.deliver(byFirst.get(key[0]!), key, message, remote)
    this.deliver(byFirst.get('*'), key, message, remote)
  }

  /** Resolves with the first message whose key matches `pattern`. */
  once(pattern: readonly (string | null)[] | string, filter: (key: RoutingKey, msg: unknown) => boolean = () => true, signal?: AbortSignal): Promise<{ key: RoutingKey; message: unknown }> {
    return new Promise((resolve, reject) => {
      const sub = this.subscribe(pattern, (key, message) => {
        if (!filter(key, message)) return
        sub.unsubscribe()
        resolve({ key, message })
      })
      signal?.addEventListener('abort', () => { sub.unsubscribe(); reject(signal.reason) }, { once: true })
    })
  }

  private deliver(set: Set<Entry> | undefined, key: RoutingKey, message: unknown, remote: boolean): void {
    if (!set) return
    for (const e of set) {
      if (remote && e.localOnly) continue
      if (!matches(e.pattern, key)) continue
      try { e.handler(key, message) } catch (err) { this.onError(err, key) }
    }
  }
}

export function matches(pattern: readonly (string | null)[], key: RoutingKey): boolean {
  if (pattern.length !== key.length) return false
  for (let i = 0; i < key.length; i++) {
    const p = pattern[i]
    if (p !== null && p !== '*' && p !== key[i]) return false
  }
  return true
}
