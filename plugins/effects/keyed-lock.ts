/** One holder at a time per key, first come first served; a waiter can give up through its signal. */
export function createKeyedLock() {
  const tails = new Map<string, Promise<void>>()
  return {
    async acquire(key: string, signal?: AbortSignal): Promise<() => void> {
      const before = tails.get(key) ?? Promise.resolve()
      let release!: () => void
      const mine = new Promise<void>((res) => { release = res })
      const tail = before.then(() => mine)
      tails.set(key, tail)
      const done = (): void => { release(); if (tails.get(key) === tail) tails.delete(key) }
      if (signal) {
        const aborted = new Promise<never>((_, rej) => {
          if (signal.aborted) rej(signal.reason)
          signal.addEventListener('abort', () => rej(signal.reason), { once: true })
        })
        try { await Promise.race([before, aborted]) } catch (e) { void before.then(done).catch(() => undefined); throw e }
      } else await before
      return done
    },
  }
}
