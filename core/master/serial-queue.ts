import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * Runs jobs one at a time, in the order they were queued; a failing job does not stop the next.
 * `inside()` tells whether the caller runs within the job running now (a call from there must
 * not queue behind the job it is part of). Servers and timers created during a job keep its
 * context, so each job has its own token and only the running one counts.
 */
export function createSerialQueue() {
  let tail: Promise<unknown> = Promise.resolve()
  const ctx = new AsyncLocalStorage<object>()
  let running: object | undefined
  return {
    run<T>(job: () => Promise<T>): Promise<T> {
      const next = tail.then(async () => {
        const token = {}
        running = token
        try { return await ctx.run(token, job) } finally { running = undefined }
      })
      tail = next.catch(() => undefined)
      return next
    },
    inside: (): boolean => running !== undefined && ctx.getStore() === running,
  }
}

export type SerialQueue = ReturnType<typeof createSerialQueue>
