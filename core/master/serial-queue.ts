/** Runs jobs one at a time, in the order they were queued; a failing job does not stop the next. */
export function createSerialQueue() {
  let tail: Promise<unknown> = Promise.resolve()
  let busy = false
  return {
    run<T>(job: () => Promise<T>): Promise<T> {
      const next = tail.then(async () => { busy = true; try { return await job() } finally { busy = false } })
      tail = next.catch(() => undefined)
      return next
    },
    /** True while a job runs (calls made from inside a job must not queue behind it). */
    get busy() { return busy },
  }
}
