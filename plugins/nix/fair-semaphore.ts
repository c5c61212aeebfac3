/**
 * A counting semaphore whose waiters are served round-robin by key (project), so one project
 * with many queued evaluations cannot starve another.
 */
export function createFairSemaphore(limit: number) {
  let active = 0
  const queues = new Map<string, (() => void)[]>()
  let order: string[] = []

  const next = (): void => {
    while (active < limit && order.length) {
      const key = order.shift()!
      const q = queues.get(key)!
      const wake = q.shift()!
      if (q.length) order.push(key)
      else queues.delete(key)
      active++
      wake()
    }
  }

  return {
    /** Waits for a slot; the returned function frees it (call it once). Aborting removes the waiter. */
    acquire(key: string, signal?: AbortSignal): Promise<() => void> {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) { reject(signal.reason); return }
        let done = false
        const release = (): void => { if (done) return; done = true; active--; next() }
        const wake = (): void => { signal?.removeEventListener('abort', onAbort); resolve(release) }
        const onAbort = (): void => {
          const q = queues.get(key)
          const i = q?.indexOf(wake) ?? -1
          if (i >= 0) {
            q!.splice(i, 1)
            if (!q!.length) { queues.delete(key); order = order.filter((x) => x !== key) }
          }
          reject(signal!.reason)
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        let q = queues.get(key)
        if (!q) { queues.set(key, (q = [])); order.push(key) }
        q.push(wake)
        next()
      })
    },
    get active() { return active },
  }
}

export type FairSemaphore = ReturnType<typeof createFairSemaphore>
