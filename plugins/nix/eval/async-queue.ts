/** A push queue read with `for await`; `fail` makes the reader throw after what was queued. */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  push(item: T): void
  close(): void
  fail(err: unknown): void
}

export function createAsyncQueue<T>(): AsyncQueue<T> {
  const items: T[] = []
  let done = false
  let error: { err: unknown } | undefined
  let wake: (() => void) | undefined
  const notify = (): void => { const w = wake; wake = undefined; w?.() }
  return {
    push(item) { if (!done) { items.push(item); notify() } },
    close() { done = true; notify() },
    fail(err) { if (!done) { error = { err }; done = true; notify() } },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (items.length) { yield items.shift()!; continue }
        if (error) throw error.err
        if (done) return
        await new Promise<void>((r) => { wake = r })
      }
    },
  }
}

/** Runs at most `n` tasks at a time. */
export interface Semaphore {
  run<T>(task: () => Promise<T>): Promise<T>
}

export function createSemaphore(n: number): Semaphore {
  let free = Math.max(1, n)
  const waiting: (() => void)[] = []
  return {
    async run(task) {
      if (free > 0) free--
      else await new Promise<void>((r) => waiting.push(r))
      try { return await task() } finally {
        const next = waiting.shift()
        if (next) next()
        else free++
      }
    },
  }
}
