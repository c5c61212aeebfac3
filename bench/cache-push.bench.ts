// Push throughput of the binary-cache upload queue to a file binary cache (paths/s), next to one
// `nix copy --to file://` of the same paths. Prints JSON lines; `ratio` is the queue's time over
// nix copy's (1.0 = as fast as nix copy alone).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bus } from '../core/bus/bus.ts'
import { connectDb } from '../core/db/connect.ts'
import { createPluginStorage, migratePlugin } from '../core/db/plugin-storage.ts'
import { createLogger } from '../core/util/logger.ts'
import { nixStore } from '../plugins/cachix/backends.ts'
import { cacheMigrations, type CacheTables } from '../plugins/cachix/queue-store.ts'
import { createUploadQueue } from '../plugins/cachix/upload-queue.ts'
import { closureOf } from '../plugins/cachix/upload-step.ts'
import { buildClosures } from '../test/fixtures/cache-tools/closures.ts'

const OUTPUTS = Number(process.env.BENCH_CACHE_PATHS ?? 300)
const emit = (metric: string, value: number, extra: Record<string, unknown> = {}): void =>
  console.log(JSON.stringify({ bench: 'cache-push', metric, value: Math.round(value * 100) / 100, ...extra }))

const tmp = mkdtempSync(join(tmpdir(), 'bench-cache-'))
const db = await connectDb(`sqlite:${join(tmp, 'state.sqlite')}`)
try {
  // OUTPUTS small outputs sharing one dependency: OUTPUTS + 1 store paths.
  const { outs } = buildClosures(tmp, OUTPUTS, `bench-${process.pid}-${Date.now()}`)
  const signal = new AbortController().signal
  const items = await closureOf(outs, signal)
  const paths = items.length

  // One `nix copy` of every output (its closure included).
  let t = performance.now()
  execFileSync('nix', ['copy', '--to', `file://${join(tmp, 'copy-cache')}`, ...outs], { stdio: 'ignore' })
  const copySeconds = (performance.now() - t) / 1000

  // The queue: every closure path queued (one enqueue per output, as builds do), asked, batched, pushed, recorded.
  await migratePlugin(db, 'binary-caches', cacheMigrations)
  const cache = nixStore({ url: `file://${join(tmp, 'queue-cache')}` })
  const queue = createUploadQueue({
    storage: createPluginStorage<CacheTables>(db, new Bus(), 'binary-caches'), caches: [cache], log: createLogger({ level: 'error' }),
    retry: { attempts: 3, initialMs: 1000, maxMs: 10_000 }, batchSize: 500,
  })
  await queue.start()
  // Each build asks its output's closure (`nix path-info --recursive`); timed on its own.
  t = performance.now()
  const byOut = []
  for (const o of outs) byOut.push(await closureOf([o], signal))
  const closureSeconds = (performance.now() - t) / 1000
  t = performance.now()
  await Promise.all(byOut.map((c) => queue.enqueue(cache.id, c)))
  const enqueueSeconds = (performance.now() - t) / 1000
  const outcomes = await queue.wait(cache.id, items.map((i) => i.path))
  const queueSeconds = (performance.now() - t) / 1000
  const [stats] = await queue.stats()
  await queue.stop()
  const notPushed = outcomes.filter((o) => o.state !== 'pushed').length
  if (notPushed) throw new Error(`${notPushed} paths were not pushed`)

  emit('nix_copy_paths_per_s', paths / copySeconds, { paths, seconds: Math.round(copySeconds * 1000) / 1000 })
  emit('queue_paths_per_s', paths / queueSeconds, { paths, seconds: Math.round(queueSeconds * 1000) / 1000, batchSize: 500, pushCommands: stats!.pushCommands })
  emit('queue_over_nix_copy_ratio', queueSeconds / copySeconds, { paths })
  emit('enqueue_ms_per_output', (enqueueSeconds * 1000) / outs.length, { outputs: outs.length, note: 'one database transaction per build, part of the queue time' })
  emit('closure_query_ms_per_output', (closureSeconds * 1000) / outs.length, { outputs: outs.length })
} finally {
  await db.close()
  rmSync(tmp, { recursive: true, force: true })
}
