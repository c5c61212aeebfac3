import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * Runs jobs one at a time, in the order they were queued; a failing job does not stop the next.
 * `inside()` tells whether the caller runs within a job of this queue (a call from there must
 * not queue behind the job it is part of).
 */
export function createSerialQueue() {
  let tail: Promise<unknown> = Promise.resolve()
  const ctx = new AsyncLocalStorage<boolean>()
  return {
    run<T>(job: () => Promise<T>): Promise<T> {
      const next = tail.then(() => ctx.run(true, job))
      tail = next.catch(() => undefined)
      return next
    },
    inside: (): boolean => ctx.getStore() === true,
  }
}

export type SerialQueue = ReturnType<typeof createSerialQueue>
