/**
 * A typed event a plugin offers others: `tap` a handler, `call` it with one event. Handlers run in
 * the order they were tapped; one that throws or rejects is reported to `onError` and the others
 * still run. `call` never throws: the plugin emitting an event is never broken by a subscriber.
 *
 * @example
 * ```ts
 * const evalFinished = createHook<{ buildid: number; results: Result }>('evalFinished')
 * const untap = evalFinished.tap((ev) => console.log(ev.buildid))
 * await evalFinished.call({ buildid: 1, results: SUCCESS })
 * untap()
 * ```
 */
export interface Hook<T> {
  readonly name: string
  /** Adds a handler; returns a function that removes it. */
  tap(handler: HookHandler<T>): () => void
  untap(handler: HookHandler<T>): void
  /** Runs every handler (awaiting async ones, one after another); resolves when all are done. */
  call(event: T): Promise<void>
  /** How many handlers are tapped (an emitter may skip building an event nobody listens to). */
  readonly size: number
}

export type HookHandler<T> = (event: T) => void | Promise<void>

export interface HookOptions {
  /** Where a failing handler is reported; the default writes one line to stderr. */
  onError?: (err: unknown, hookName: string) => void
}

export function createHook<T>(name: string, opts: HookOptions = {}): Hook<T> {
  const handlers: HookHandler<T>[] = []
  const report = (err: unknown): void => {
    try {
      if (opts.onError) opts.onError(err, name)
      else process.stderr.write(`hook '${name}': a handler failed: ${(err as Error)?.stack ?? String(err)}\n`)
    } catch { /* an error handler that fails has nowhere left to report */ }
  }
  return {
    name,
    tap(handler) {
      handlers.push(handler)
      return () => this.untap(handler)
    },
    untap(handler) {
      const i = handlers.indexOf(handler)
      if (i >= 0) handlers.splice(i, 1)
    },
    async call(event) {
      for (const h of [...handlers]) {
        try { await h(event) } catch (err) { report(err) }
      }
    },
    get size() { return handlers.length },
  }
}
