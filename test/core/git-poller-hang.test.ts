import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server, type Socket } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { changes } from '../../core/index.ts'
import { createLogger } from '../../core/util/logger.ts'
import type { ChangeSourceServices } from '../../core/changes/change-source.ts'
import type { Data } from '../../core/data/data.ts'
import { haveTool } from '../support/tools.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb } from '../support/master-harness.ts'

const enabled = haveTool('git', 'apt-get install git')
const maybe = enabled ? test : test.skip

/** A git:// remote on loopback that accepts connections and never answers. */
async function silentRemote(): Promise<{ url: string; connected: Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  let onConnect!: () => void
  const connected = new Promise<void>((r) => { onConnect = r })
  const server: Server = createServer((sock) => { sockets.add(sock); sock.on('error', () => {}); onConnect() })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    url: `git://127.0.0.1:${port}/hung.git`, connected,
    close: () => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(() => r())) },
  }
}

/** Fails with `what` unless `p` settles first: a hang becomes a failure instead of a stuck test. */
function bounded<T>(p: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([p, new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish (hung)`)), ms) })])
    .finally(() => clearTimeout(timer))
}

maybe('a git call to a remote that never answers fails after the poller\'s timeout, naming it', async () => {
  const remote = await silentRemote()
  const workdir = mkdtempSync(join(tmpdir(), 'bbn-hung-'))
  const state = new Map<string, unknown>()
  const services: ChangeSourceServices = {
    data: {} as Data, log: createLogger({ level: 'silent' }), workdir, signal: new AbortController().signal,
    addChange: async () => { throw new Error('no change expected') },
    getState: async <T>(n: string, f: T) => (state.has(n) ? state.get(n) as T : f),
    setState: async (n, v) => { state.set(n, v) },
  }
  const rt = changes.gitPoller({ repourl: remote.url, timeout: 1 }).create(services)
  try {
    const err = await bounded(rt.poll!().then(() => undefined, (e: Error) => e), 'the poll')
    assert.ok(err, 'the poll fails')
    assert.match(err!.message, /git ls-remote timed out after 1 s/)
    assert.is(state.size, 0)
  } finally {
    await rt.stop()
    await remote.close()
    rmSync(workdir, { recursive: true, force: true })
  }
})

eachDb(maybe, 'stopping the master while the git poller waits on a hung remote returns at once', async (start) => {
  const remote = await silentRemote()
  try {
    const h = await start({ changeSources: [changes.gitPoller({ repourl: remote.url, branches: ['main'] })] })
    await bounded(remote.connected, 'the poller\'s connection')
    await bounded(h.stop(), 'stopping the master')
  } finally { await remote.close() }
}, testDatabases().slice(0, 1))

test.run()
