import type { PluginRuntime } from '../../core/index.ts'

/** What `run` did with one delivery. */
export type DeliveryOutcome<T> = { duplicate: false; value: T } | { duplicate: true; value?: T }

/** Delivery ids already handled, so a forge's redelivery of one webhook makes one change. */
export interface DeliveryDedup {
  /**
   * Runs `handle` for a delivery id seen for the first time. The same id while it runs waits for
   * it and is a duplicate if it succeeded; an id handled before is a duplicate at once. A run that
   * throws, or whose value `remember` refuses, is forgotten, so a redelivery is handled again.
   * Deliveries without an id are always handled.
   */
  run<T>(id: string | undefined, handle: () => Promise<T>, remember?: (value: T) => boolean): Promise<DeliveryOutcome<T>>
  /** Ids remembered now (bounded by `max`). */
  size(): number
}

/** Where handled delivery ids outlive the process (core's `rt.data.deliveries` for one hook). */
export interface DeliveryStore {
  handled(id: string): Promise<boolean>
  record(id: string): Promise<void>
}

/**
 * The newest `max` delivery ids in memory (default 10,000), backed by `store` when it gives one
 * (the running plugin's database: a redelivery after a restart is a duplicate too). Kept per
 * plugin instance. Recording happens after the delivery was handled: a master that dies in
 * between may handle that delivery again, but never drops one.
 */
export function createDeliveryDedup(opts: { max?: number; store?: () => DeliveryStore | undefined } = {}): DeliveryDedup {
  const max = Math.max(1, opts.max ?? 10_000)
  const done = new Set<string>()
  const running = new Map<string, Promise<boolean>>()
  const remembered = (id: string) => {
    done.add(id)
    if (done.size > max) done.delete(done.values().next().value!)
  }
  return {
    async run(id, handle, remember = () => true) {
      if (!id) return { duplicate: false, value: await handle() }
      for (;;) {
        if (done.has(id)) return { duplicate: true }
        const other = running.get(id)
        if (!other) break
        if (await other) return { duplicate: true }
      }
      let settle!: (kept: boolean) => void
      running.set(id, new Promise<boolean>((r) => { settle = r }))
      let kept = false
      try {
        const store = opts.store?.()
        if (store && await store.handled(id)) {
          kept = true
          remembered(id)
          return { duplicate: true }
        }
        const value = await handle()
        kept = remember(value)
        if (kept) {
          remembered(id)
          await store?.record(id)
        }
        return { duplicate: false, value }
      } finally {
        running.delete(id)
        settle(kept)
      }
    },
    size: () => done.size,
  }
}

/** The running master's record of `hook`'s deliveries; a failed write is logged (the change is stored: the delivery still succeeded). */
export function deliveryStoreOf(rt: PluginRuntime, hook: string): DeliveryStore {
  return {
    handled: (id) => rt.data.deliveries.handled(hook, id),
    record: (id) => rt.data.deliveries.record(hook, id).catch((err: unknown) => {
      rt.log.warn({ hook, delivery: id, err: String(err) }, 'the delivery id was not stored; a redelivery after a restart would be handled again')
    }),
  }
}
