import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MasterConfig } from '../../core/config/define-master.ts'
import { startTestWorker, type TestWorker } from '../../core/workers/msgpack/test-worker.ts'
import { testDatabases } from '../support/databases.ts'
import { startMaster, type MasterHarness } from '../support/master-harness.ts'

/**
 * A real master (sqlite, in-process, msgpack listener on loopback) plus real Debian
 * `buildbot-worker` processes, driven through its HTTP API as a user would.
 */
export interface WorkerWorld {
  h: MasterHarness
  /** A scratch folder on the master's side (gates, transfer sources and targets). */
  scratch: string
  /** Starts a worker process that connects to this master. */
  startWorker(name: string, password: string): Promise<TestWorker>
  get<T = any>(path: string): Promise<T>
  /** JSON-RPC 2.0 `method` on `POST /api/v2/<path>`; resolves with the whole response body. */
  rpc(path: string, method: string, params?: Record<string, unknown>): Promise<{ result?: unknown; error?: { code: number; message: string } }>
  /** Polls `check` until truthy (no timing assertion: only a deadline so a broken master fails the test). */
  until<T>(check: () => T | Promise<T>, what: string, ms?: number): Promise<NonNullable<T>>
  /** The worker entity as `GET /api/v2/workers/<name>` returns it. */
  workerEntity(name: string): Promise<any>
  /** Builds of a builder (by name) as the REST API lists them. */
  builds(builder: string): Promise<any[]>
  /** Waits for the build of a request to complete and returns it. */
  finishedBuild(buildid: number): Promise<any>
  /** The whole stdio log of a build's step, raw with its `o`/`e`/`h` prefixes. */
  stepLog(buildid: number, stepNumber: number, slug?: string): Promise<string>
  stop(): Promise<void>
}

/** `cfg` may be a function of the scratch folder (for paths the steps use). */
export async function startWorld(cfg: MasterConfig | ((scratch: string) => MasterConfig)): Promise<WorkerWorld> {
  const db = testDatabases()[0]!
  const scratch = mkdtempSync(join(tmpdir(), 'bbn-worker-e2e-'))
  const input = typeof cfg === 'function' ? cfg(scratch) : cfg
  const h = await startMaster(db, { protocols: { msgpack: { port: 0, host: '127.0.0.1' } }, ...input })
  const workers: TestWorker[] = []
  const base = () => `http://127.0.0.1:${h.master.ports.www}/api/v2/`
  const get = async (path: string) => {
    const res = await fetch(base() + path)
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
    return res.json()
  }
  const until = h.until
  const w: WorkerWorld = {
    h, scratch, get, until,
    async startWorker(name, password) {
      const tw = await startTestWorker({ port: h.master.ports.msgpack, name, password })
      workers.push(tw)
      return tw
    },
    async rpc(path, method, params = {}) {
      const res = await fetch(base() + path, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
      })
      return res.json() as Promise<{ result?: unknown; error?: { code: number; message: string } }>
    },
    async workerEntity(name) {
      return (await get(`workers/${name}`)).workers[0]
    },
    async builds(builder) {
      return (await get(`builders/${h.builderId(builder)}/builds?order=buildid`)).builds
    },
    async finishedBuild(buildid) {
      return until(async () => {
        const b = (await get(`builds/${buildid}`)).builds[0]
        return b.complete ? b : undefined
      }, `build ${buildid} to complete`, 45_000)
    },
    async stepLog(buildid, stepNumber, slug = 'stdio') {
      const step = (await get(`builds/${buildid}/steps/${stepNumber}`)).steps[0]
      const log = (await get(`steps/${step.stepid}/logs/${slug}`)).logs[0]
      return (await get(`logs/${log.logid}/contents`)).logchunks[0].content as string
    },
    async stop() {
      await Promise.all(workers.map((tw) => tw.stop().catch(() => {})))
      await h.stop()
      rmSync(scratch, { recursive: true, force: true })
    },
  }
  return w
}

/** Whether a process whose command line contains `needle` is running (reads /proc). */
export async function processRunning(needle: string): Promise<boolean> {
  const { readdir, readFile } = await import('node:fs/promises')
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmd.replace(/\0/g, ' ').includes(needle)) return true
  }
  return false
}

/** SIGKILLs every process whose command line contains `needle` (orphans of a killed worker). */
export async function killProcesses(needle: string): Promise<void> {
  const { readdir, readFile } = await import('node:fs/promises')
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmd.replace(/\0/g, ' ').includes(needle)) { try { process.kill(Number(pid), 'SIGKILL') } catch { /* already gone */ } }
  }
}
