import type { Logger, ProjectSpec } from '../../core/index.ts'

export interface DiscoveryLoopOptions {
  /** The project source's name (log lines). */
  name: string
  /** Asks the forge; throws when it cannot tell (unreachable, 5xx, bad credentials). */
  discover(): Promise<ProjectSpec[]>
  /** Puts what a run found into the registry (`rt.projects.sync(name, specs)`). */
  apply(specs: ProjectSpec[]): Promise<unknown>
  log: Logger
  /** Stops the loop. */
  signal: AbortSignal
  /** Between successful runs (default 12 hours, as buildbot-nix). */
  intervalMs?: number
  /** After a failed run: `initialMs` (default 5 s) doubling up to `maxMs` (default 10 min). */
  retry?: { initialMs?: number; maxMs?: number }
}

export interface DiscoveryLoop {
  /**
   * One discovery (a run already under way is shared): the project source's `discover`. A failure
   * is logged, schedules a retry with backoff and is thrown to the caller, so the registry keeps
   * what it knew; a success schedules the next periodic run.
   */
  discover(): Promise<ProjectSpec[]>
  /** Discovers now and applies the result (a webhook said repositories changed). Never throws. */
  trigger(): Promise<void>
  /** Schedules the first run after `delayMs` (the master asks the sources at start already). */
  start(delayMs?: number): void
  /** Failed runs since the last success. */
  failures(): number
}

/**
 * Forge discovery as a loop: periodic, asked again by webhooks and `reload`, and when the forge
 * is unreachable (a master starting after a reboot without network) the projects it knew stay
 * registered and built while it retries with backoff.
 */
export function createDiscoveryLoop(o: DiscoveryLoopOptions): DiscoveryLoop {
  const intervalMs = o.intervalMs ?? 12 * 3600_000
  const initialMs = o.retry?.initialMs ?? 5000
  const maxMs = o.retry?.maxMs ?? 600_000
  let inFlight: Promise<ProjectSpec[]> | undefined
  let failed = 0
  let timer: NodeJS.Timeout | undefined
  const schedule = (ms: number) => {
    if (o.signal.aborted) return
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => { timer = undefined; void loop.trigger() }, ms)
    timer.unref()
  }
  o.signal.addEventListener('abort', () => { if (timer) clearTimeout(timer) }, { once: true })

  const runOnce = async (): Promise<ProjectSpec[]> => {
    try {
      const specs = await o.discover()
      if (failed) o.log.info({ source: o.name, after: failed }, 'project discovery works again')
      failed = 0
      schedule(intervalMs)
      return specs
    } catch (err) {
      failed++
      const wait = Math.min(maxMs, initialMs * 2 ** (failed - 1))
      o.log.error({ source: o.name, err: (err as Error).message, attempt: failed, retryInMs: wait }, 'project discovery failed; the projects found before stay and are built')
      schedule(wait)
      throw err
    }
  }

  const loop: DiscoveryLoop = {
    discover() {
      if (o.signal.aborted) return Promise.reject(new Error(`${o.name}: stopped`))
      inFlight ??= runOnce().finally(() => { inFlight = undefined })
      return inFlight
    },
    async trigger() {
      try {
        const specs = await loop.discover()
        if (!o.signal.aborted) await o.apply(specs)
      } catch { /* logged by the run; kept what it knew */ }
    },
    start(delayMs = intervalMs) { if (!timer) schedule(delayMs) },
    failures: () => failed,
  }
  return loop
}
