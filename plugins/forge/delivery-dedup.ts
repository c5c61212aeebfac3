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

/**
 * An in-memory record of the newest `max` delivery ids (default 10,000: a forge redelivers within
 * minutes or by hand, never thousands of deliveries later). Kept per plugin instance.
 */
export function createDeliveryDedup(opts: { max?: number } = {}): DeliveryDedup {
  const max = Math.max(1, opts.max ?? 10_000)
  const done = new Set<string>()
  const running = new Map<string, Promise<boolean>>()
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
        const value = await handle()
        kept = remember(value)
        if (kept) {
          done.add(id)
          if (done.size > max) done.delete(done.values().next().value!)
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
