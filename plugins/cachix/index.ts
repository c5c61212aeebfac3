import { Counter, Gauge, definePlugin, type PluginApi, type StepContext } from '../../core/index.ts'
import { NixKey } from '../nix/index.ts'
import { attic, cachix, niks3, nixStore } from './backends.ts'
import type { BinaryCache } from './binary-cache.ts'
import { branchMatches } from './format.ts'
import { binaryCachesSchema, type BinaryCachesParsed } from './options.ts'
import { outLinkStep, postBuildStep } from './post-build-steps.ts'
import { cacheMigrations, type CacheTables } from './queue-store.ts'
import { createUploadQueue, type UploadQueue } from './upload-queue.ts'
import { uploadStep, type UploadContext } from './upload-step.ts'

export { attic, cachix, niks3, nixStore, storeUrlWithKey } from './backends.ts'
export { PushError, type BinaryCache } from './binary-cache.ts'
export { createUploadQueue, type UploadQueue, type CacheQueueStats, type PathOutcome, type QueueItem, type RetryPolicy } from './upload-queue.ts'
export type { CacheTables, UploadState } from './queue-store.ts'
export type { BinaryCachesOptions, CachixOptions, Niks3Options, AtticOptions, NixStoreOptions, PostBuildStepOptions } from './options.ts'

const list = <T>(v: T | T[] | undefined): T[] => (v == null ? [] : Array.isArray(v) ? v : [v])

/** Every output of the attribute built (property `outputs`: name → path), else `out_path`. */
function builtOutputs(ctx: StepContext): string[] {
  const outputs = ctx.getProperty('outputs')
  if (outputs && typeof outputs === 'object' && !Array.isArray(outputs)) {
    const paths = Object.values(outputs as Record<string, unknown>).filter((p): p is string => typeof p === 'string' && p.length > 0)
    if (paths.length) return paths
  }
  return [String(ctx.getProperty('out_path') ?? '')]
}

/** The configured caches, each through its factory; mistakes reported at their key path. */
function configuredCaches(o: BinaryCachesParsed, api: PluginApi): BinaryCache[] {
  const caches: BinaryCache[] = []
  const many = (k: string, v: unknown, i: number): string => (Array.isArray(v) ? `${k}[${i}]` : k)
  list(o.cachix).forEach((c, i) => {
    if (!c.auth && !c.authTokenFile && !c.signingKeyFile) api.error(`${many('cachix', o.cachix, i)}.auth`, "Cachix needs credentials: auth: { authToken: { file: '/path/to/token' } } or auth: { signingKey: { file: '/path/to/key' } }")
    caches.push(cachix(c))
  })
  list(o.niks3).forEach((c) => caches.push(niks3(c)))
  list(o.attic).forEach((c) => caches.push(attic(c)))
  list(o.nixStore).forEach((c) => caches.push(nixStore(c)))
  const seen = new Set<string>()
  for (const c of caches) {
    if (seen.has(c.id)) api.error('', `the cache '${c.label}' is configured twice; keep one`)
    seen.add(c.id)
  }
  return caches
}

/**
 * Pushes what trusted builds built to binary caches (Cachix, niks3, Attic, any Nix store) through
 * a durable queue in the database, and runs buildbot-nix's `postBuildSteps`.
 *
 * @example
 * ```ts
 * plugins: [
 *   nix({ workers: ['local'], projects: [...] }),
 *   binaryCaches({
 *     cachix: { name: 'my-cache', auth: { authToken: { file: '/run/credentials/cachix-token' } } },
 *     nixStore: { url: 's3://nix-cache?region=eu-west-1', secretKeyFile: '/run/credentials/cache-key' },
 *     postBuildSteps: [{ name: 'announce', command: ['notify', interpolate('%(prop:attr)s')], warnOnly: true }],
 *   }),
 * ]
 * ```
 */
export const binaryCaches = definePlugin({
  name: 'binary-caches',
  options: binaryCachesSchema,
  requires: [NixKey],
  setup(api, options) {
    api.addMigrations(cacheMigrations)
    const caches = configuredCaches(options, api)
    const nixApi = api.use(NixKey)
    const up: UploadContext = { onFailure: options.onFailure ?? 'warnings', maxWaitMs: (options.maxWait ?? 120) * 1000 }
    const branches = options.branches

    // Every successful attribute build of a trusted build pushes its output's closure.
    for (const c of caches) {
      nixApi.addPostBuildStep(uploadStep(up, c, { outputs: builtOutputs }), { when: { trustedOnly: true, branches } })
    }
    // Attributes skipped as already built: one upload step per cache in the evaluation build.
    const skipped = new Map<number, string[]>()
    nixApi.hooks.attributeFinished.tap((ev) => {
      if (!caches.length || ev.state !== 'skipped' || !ev.outPath || !ev.trusted || !branchMatches(branches, ev.branch)) return
      const outs = skipped.get(ev.buildid) ?? []
      outs.push(ev.outPath)
      skipped.set(ev.buildid, outs)
    })
    nixApi.hooks.evalFinished.tap((ev) => { if (ev.error) skipped.delete(ev.buildid) })
    nixApi.hooks.matrixFinished.tap((ev) => {
      const outs = skipped.get(ev.buildid)
      skipped.delete(ev.buildid)
      if (!outs?.length || !ev.trusted) return
      ev.addSteps(caches.map((c) => uploadStep(up, c, { name: `upload to ${c.label} (already built)`, outputs: () => outs })))
    })

    // buildbot-nix's postBuildSteps, after the uploads.
    const configured = options.postBuildSteps ?? []
    if (configured.length) {
      nixApi.addPostBuildStep(outLinkStep(configured))
      for (const o of configured) nixApi.addPostBuildStep(postBuildStep(o))
    }

    let queue: UploadQueue | undefined
    api.addRestEndpoint({
      path: 'binarycaches', plural: 'binarycaches', kind: 'collection',
      async get() {
        if (!queue) return caches.map((c) => ({ cache: c.id, label: c.label, started: false }))
        return (await queue.stats()).map((s) => ({ ...s, started: true }) as unknown as Record<string, unknown>)
      },
    })
    api.addMetrics((register) => {
      // Read from the queue's table when scraped (one read shared by the families).
      let reading: Promise<void> | undefined
      const read = (): Promise<void> => reading ??= (async () => {
        try {
          const stats = queue ? await queue.stats() : []
          failures.reset()
          for (const st of stats) {
            length.set({ cache: st.label }, st.queued + st.pushing)
            failedPaths.set({ cache: st.label }, st.failed)
            failures.inc({ cache: st.label }, st.failedAttempts)
          }
        } finally { reading = undefined }
      })()
      const length = new Gauge({ name: 'bbn_binary_caches_queue_length', help: 'Store paths queued for (or being pushed to) each binary cache', labelNames: ['cache'], registers: [register], collect: read })
      const failedPaths = new Gauge({ name: 'bbn_binary_caches_failed_paths', help: 'Store paths given up on after every retry failed, per binary cache', labelNames: ['cache'], registers: [register], collect: read })
      const failures = new Counter({ name: 'bbn_binary_caches_push_failures_total', help: 'Push commands that failed since the master started, per binary cache', labelNames: ['cache'], registers: [register], collect: read })
    })
    api.onStart(async (rt) => {
      const r = options.retry ?? {}
      queue = createUploadQueue({
        storage: rt.storage<CacheTables>(), caches, log: rt.log, batchSize: options.batchSize ?? 500, pushTimeoutMs: (options.pushTimeout ?? 1800) * 1000,
        retry: { attempts: r.attempts ?? 5, initialMs: (r.initialDelay ?? 2) * 1000, maxMs: (r.maxDelay ?? 60) * 1000 },
      })
      up.queue = queue
      await queue.start()
      const q = queue
      rt.signal.addEventListener('abort', () => { void q.stop().catch((err: Error) => rt.log.error({ err: err.message }, 'stopping the upload queue failed')) }, { once: true })
    })
  },
})
