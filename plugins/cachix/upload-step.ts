import { CANCELLED, FAILURE, SUCCESS, WARNINGS, steps, type StepContext, type StepSpec } from '../../core/index.ts'
import type { BinaryCache } from './binary-cache.ts'
import { formatBytes } from './format.ts'
import { runTool } from './run-tool.ts'
import type { QueueItem, UploadQueue } from './upload-queue.ts'

/** What the upload steps share: the running queue (set at start) and the configured failure result. */
export interface UploadContext {
  queue?: UploadQueue
  onFailure: 'warnings' | 'failure'
  /** Longest a build waits for its paths (ms); the queue goes on pushing after it. */
  maxWaitMs: number
}

/** The closure of `outs` in this machine's store, with NAR sizes (`nix path-info --recursive --json`). */
export async function closureOf(outs: string[], signal: AbortSignal): Promise<QueueItem[]> {
  const out = await runTool({ executable: 'nix', args: ['path-info', '--recursive', '--json', ...outs], signal })
  return (JSON.parse(out) as { path: string; narSize?: number; valid?: boolean }[])
    .filter((r) => r.valid !== false).map((r) => ({ path: r.path, narSize: r.narSize ?? 0 }))
}

/**
 * Queues the closure of the build's outputs for one cache and waits until the queue has pushed
 * it (or found it there, or given up after its retries). The step's text says what was pushed
 * (paths, bytes, seconds), its log lists every path; a push that kept failing makes the step
 * WARNINGS (or FAILURE when `onFailure: 'failure'`), never touching the build's nix result.
 */
export function uploadStep(up: UploadContext, cache: BinaryCache, opts: { name?: string; outputs: (ctx: StepContext) => string[] }): StepSpec {
  const failed = up.onFailure === 'failure' ? FAILURE : WARNINGS
  return steps.custom({
    name: opts.name ?? `upload to ${cache.label}`, type: 'binary-cache-upload', fingerprint: ['binary-cache-upload', cache.id, opts.name ?? null, up.onFailure],
    flunkOnFailure: up.onFailure === 'failure', warnOnFailure: true,
    async run(ctx) {
      const t0 = performance.now()
      const log = await ctx.addLog('upload')
      const outs = opts.outputs(ctx).filter(Boolean)
      if (!up.queue) { log.write('the binary-caches plugin is not started\n', 'e'); await ctx.setStateString(`not pushed to ${cache.label}`); return failed }
      if (!outs.length) { await ctx.setStateString('no output to push'); return SUCCESS }
      let items: QueueItem[]
      try {
        items = await closureOf(outs, ctx.signal)
      } catch (err) {
        if (ctx.signal.aborted) return CANCELLED
        log.write(`cannot read the closure of ${outs.join(' ')} in this master's Nix store: ${(err as Error).message}\n`, 'e')
        await ctx.setStateString(`not pushed to ${cache.label}: the output is not in the master's store`)
        return failed
      }
      log.write(`queued ${items.length} paths (closure of ${outs.join(', ')}) for ${cache.label}\n`, 'h')
      const before = await up.queue.enqueue(cache.id, items)
      let outcomes
      try {
        outcomes = await up.queue.wait(cache.id, items.map((i) => i.path), { signal: ctx.signal, maxWaitMs: up.maxWaitMs })
      } catch (err) {
        if (ctx.signal.aborted) return CANCELLED
        throw err
      }
      const seconds = (performance.now() - t0) / 1000
      let pushed = 0
      let bytes = 0
      let present = 0
      const failures: string[] = []
      const pending: string[] = []
      let retrying = 0
      for (const o of outcomes) {
        if (o.state === 'failed') {
          failures.push(o.path)
          log.write(`not pushed ${o.path} (${o.attempts} attempts): ${o.error ?? 'unknown error'}\n`, 'e')
        } else if (o.state === 'pending') {
          pending.push(o.path)
          if (o.attempts > 0) retrying++
          log.write(o.attempts ? `not pushed yet ${o.path} (${o.attempts} failed attempts, retrying after this build): ${o.error ?? ''}\n` : `still queued ${o.path} (pushed after this build)\n`, o.attempts ? 'e' : 'o')
        } else if (o.state === 'pushed' && !before.has(o.path)) {
          pushed++
          bytes += o.narSize
          log.write(`pushed ${o.path} (${formatBytes(o.narSize)})\n`, 'o')
        } else {
          present++
          log.write(`already in the cache ${o.path}\n`, 'o')
        }
      }
      const done = `pushed ${pushed} path${pushed === 1 ? '' : 's'} (${formatBytes(bytes)}) to ${cache.label} in ${seconds.toFixed(1)} s${present ? `, ${present} already there` : ''}`
      log.write(`${done}${failures.length ? `; ${failures.length} failed` : ''}${pending.length ? `; ${pending.length} still queued` : ''}\n`, 'h')
      await ctx.setProperty(`binary_cache_pushed:${cache.id}`, { paths: pushed, bytes, seconds: Number(seconds.toFixed(3)), present, failed: failures.length, pending: pending.length }, 'binary-caches')
      if (failures.length || retrying) {
        const last = outcomes.find((o) => o.error)?.error ?? ''
        const what = failures.length ? `${failures.length} of ${outcomes.length} paths not pushed` : `${retrying} of ${outcomes.length} paths not pushed yet (retrying)`
        await ctx.setStateString(`${what} to ${cache.label}: ${last}`.slice(0, 240))
        return failed
      }
      // Still pushing when the build stopped waiting: the queue finishes it.
      await ctx.setStateString(pending.length ? `${done}; ${pending.length} still being pushed` : done)
      return SUCCESS
    },
  })
}
