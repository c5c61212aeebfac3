import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import type { WebSocket } from 'ws'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Fixtures, Row } from './fixtures.ts'
import { keyMatches } from '../src/api/socket-path.ts'

export interface ControlCall { path: string; method: string; params: Record<string, unknown> }

export interface FixtureServer {
  url: string
  data: Fixtures
  controls: ControlCall[]
  /** Sends an event `{k, m}` to every socket consuming a matching path. */
  publish(key: string, message: unknown): void
  /** Resolves once some socket consumes exactly `path` (events-based, no polling). */
  subscribed(path: string): Promise<void>
  /** Closes every open `/ws` socket, as a master restart would. */
  dropSockets(): void
  /** While refused, every new `/ws` connection is closed at once (a master still starting). */
  refuseSockets(refuse: boolean): void
  close(): Promise<void>
}

export interface FixtureServerOptions {
  distDir: string
  data: Fixtures
  config?: Record<string, unknown>
  /** JSON-RPC endpoint paths (`builds/3`) that answer 403. */
  forbidden?: string[]
}

type Query = URLSearchParams
type Handler = (m: RegExpMatchArray, q: Query) => { plural: string; items: Row[]; single?: boolean } | null

/**
 * Serves a built UI bundle, `/config` and the data API in Buildbot's shapes from fixtures, plus a
 * `/ws` that honours `startConsuming`/`stopConsuming` — what the UI needs from a master.
 */
export async function startFixtureServer(opts: FixtureServerOptions): Promise<FixtureServer> {
  const d = opts.data
  const config = { title: 'Fixture CI', auth: { name: 'NoAuth' }, user: { anonymous: true }, ...opts.config }
  const app = Fastify({ logger: false })
  await app.register(websocket)
  const sockets = new Map<WebSocket, Set<string>>()
  const waiters: { path: string; resolve: () => void }[] = []
  const controls: ControlCall[] = []
  let refusing = false
  const withProps = (b: Row, q: Query) => {
    const names = q.getAll('property')
    if (!names.length) return { ...b, properties: {} }
    const all = d.properties.get(b.buildid as number) ?? {}
    return { ...b, properties: names.includes('*') ? all : Object.fromEntries(Object.entries(all).filter(([k]) => names.includes(k))) }
  }
  const listBuilds = (rows: Row[], q: Query) => {
    let out = rows
    const builderids = q.getAll('builderid').map(Number)
    if (builderids.length) out = out.filter((b) => builderids.includes(b.builderid as number))
    if (q.get('complete') === 'false') out = out.filter((b) => !b.complete)
    out = sortLimit(out, q)
    return { plural: 'builds', items: out.map((b) => withProps(b, q)) }
  }
  const one = (plural: string, row: Row | undefined) => (row ? { plural, items: [row], single: true } : null)
  const routes: [RegExp, Handler][] = [
    [/^projects$/, () => ({ plural: 'projects', items: d.projects })],
    [/^nixgrid\/(\d+(?:,\d+)*)$/, (m) => {
      const ids = m[1]!.split(',').map(Number)
      if (d.grid) return one('nixgrid', d.grid(ids))
      // As the Nix plugin answers it, from the fixture's nixjobs.
      const jobs = d.nixjobs.filter((j) => ids.includes(j.buildid as number))
      const attrs = [...new Set(jobs.map((j) => j.attr as string))].sort()
      const code: Record<string, string> = { success: 's', failed: 'f', 'dependency-failed': 'd', building: 'b', pending: 'p', skipped: 'k', cancelled: 'x' }
      return one('nixgrid', {
        id: ids.join(','), attrs, codes: { s: 'success', f: 'failed', d: 'dependency-failed', b: 'building', p: 'pending', k: 'skipped', x: 'cancelled', '.': 'absent', '?': 'unknown' },
        evaluations: ids.map((buildid) => {
          const mine = new Map(jobs.filter((j) => j.buildid === buildid).map((j) => [j.attr as string, j]))
          return { buildid, states: attrs.map((a) => (mine.has(a) ? code[mine.get(a)!.state as string] ?? '?' : '.')).join(''), children: attrs.map((a) => (mine.get(a)?.child_buildid as number | null | undefined) ?? null) }
        }),
      })
    }],
    [/^projects\/(\d+)$/, (m) => one('projects', d.projects.find((p) => p.projectid === +m[1]))],
    [/^projects\/(\d+)\/builders$/, (m) => ({ plural: 'builders', items: d.builders.filter((b) => b.projectid === +m[1]) })],
    [/^builders$/, () => ({ plural: 'builders', items: d.builders })],
    [/^builders\/(\d+)$/, (m) => one('builders', d.builders.find((b) => b.builderid === +m[1]))],
    [/^builders\/(\d+)\/builds$/, (m, q) => listBuilds(d.builds.filter((b) => b.builderid === +m[1]), q)],
    [/^builders\/(\d+)\/builds\/(\d+)$/, (m, q) => one('builds', mapped(d.builds.find((b) => b.builderid === +m[1] && b.number === +m[2]), (b) => withProps(b, q)))],
    [/^builders\/(\d+)\/forceschedulers$/, (m) => {
      const name = d.builders.find((b) => b.builderid === +m[1])?.name
      return { plural: 'forceschedulers', items: d.forceschedulers.filter((f) => (f.builder_names as string[]).includes(name as string)) }
    }],
    [/^builds$/, (_m, q) => listBuilds(d.builds, q)],
    [/^builds\/(\d+)$/, (m, q) => one('builds', mapped(d.builds.find((b) => b.buildid === +m[1]), (b) => withProps(b, q)))],
    [/^builds\/(\d+)\/steps$/, (m) => ({ plural: 'steps', items: d.steps.filter((s) => s.buildid === +m[1]) })],
    [/^builds\/(\d+)\/properties$/, (m) => ({ plural: 'properties', items: [d.properties.get(+m[1]) ?? {}], single: true })],
    [/^builds\/(\d+)\/triggered_builds$/, (m) => {
      const bsids = d.buildsets.filter((s) => s.parent_buildid === +m[1]).map((s) => s.bsid)
      const brids = d.buildrequests.filter((r) => bsids.includes(r.buildsetid)).map((r) => r.buildrequestid)
      return { plural: 'builds', items: d.builds.filter((b) => brids.includes(b.buildrequestid)) }
    }],
    [/^builds\/(\d+)\/changes$/, (m) => ({ plural: 'changes', items: +m[1] === 3 ? d.changes : [] })],
    [/^builds\/(\d+)\/nixjobs$/, (m) => ({ plural: 'nixjobs', items: d.nixjobs.filter((j) => j.buildid === +m[1]) })],
    [/^builds\/(\d+)\/steps\/(\d+)\/logs\/([\w-]+)$/, (m) => {
      const step = d.steps.find((s) => s.buildid === +m[1] && s.number === +m[2])
      return one('logs', d.logs.find((l) => l.stepid === step?.stepid && l.slug === m[3]))
    }],
    [/^steps\/(\d+)\/logs$/, (m) => ({ plural: 'logs', items: d.logs.filter((l) => l.stepid === +m[1]) })],
    [/^steps\/(\d+)\/logs\/([\w-]+)$/, (m) => one('logs', d.logs.find((l) => l.stepid === +m[1] && l.slug === m[2]))],
    [/^logs\/(\d+)$/, (m) => one('logs', d.logs.find((l) => l.logid === +m[1]))],
    [/^logs\/(\d+)\/contents$/, (m, q) => {
      const lines = d.logLines.get(+m[1])
      const offset = Number(q.get('offset') ?? 0)
      if (!lines || offset >= lines.length) return null
      const slice = lines.slice(offset, q.has('limit') ? offset + Number(q.get('limit')) : undefined)
      return { plural: 'logchunks', items: [{ logid: +m[1], firstline: offset, content: slice.join('\n') + '\n' }], single: true }
    }],
    [/^buildrequests$/, (_m, q) => ({ plural: 'buildrequests', items: d.buildrequests
      .filter((r) => q.get('complete') !== 'false' || !r.complete).filter((r) => q.get('claimed') !== 'false' || !r.claimed) })],
    [/^buildrequests\/(\d+)$/, (m) => one('buildrequests', d.buildrequests.find((r) => r.buildrequestid === +m[1]))],
    [/^buildrequests\/(\d+)\/builds$/, (m, q) => listBuilds(d.builds.filter((b) => b.buildrequestid === +m[1]), q)],
    [/^buildsets\/(\d+)$/, (m) => one('buildsets', d.buildsets.find((s) => s.bsid === +m[1]))],
    [/^workers$/, () => ({ plural: 'workers', items: d.workers })],
    [/^forceschedulers$/, () => ({ plural: 'forceschedulers', items: d.forceschedulers })],
  ]

  const index = async () => (await readFile(join(opts.distDir, 'index.html'), 'utf8'))
    .replace('<!-- BUILDBOT_CONFIG_PLACEHOLDER -->', `<script id="bb-config">window.buildbotFrontendConfig = ${JSON.stringify(config)};</script>`)
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(await index()))
  app.get('/app.js', async (_req, reply) => reply.type('text/javascript').send(await readFile(join(opts.distDir, 'app.js'))))
  app.get('/config', async () => config)
  app.get('/api/v2/*', async (req, reply) => {
    const url = new URL(req.url, 'http://x')
    const path = url.pathname.slice('/api/v2/'.length)
    if (/^logs\/\d+\/raw$/.test(path)) return reply.type('text/plain').send((d.logLines.get(+path.split('/')[1]) ?? []).map((l) => l.slice(1)).join('\n'))
    for (const [re, handler] of routes) {
      const m = path.match(re)
      if (!m) continue
      const res = handler(m, url.searchParams)
      if (!res) return reply.code(404).type('text/plain; charset=utf-8').send(JSON.stringify({ error: `not found: ${path}` }))
      // `field=` picks fields, as the master's REST layer does.
      const fields = url.searchParams.getAll('field')
      const items = fields.length ? res.items.map((e) => Object.fromEntries(fields.filter((k) => k in e).map((k) => [k, e[k]]))) : res.items
      return { [res.plural]: items, meta: res.single ? {} : { total: res.items.length } }
    }
    return reply.code(404).type('text/plain; charset=utf-8').send(JSON.stringify({ error: `Invalid path: ${path}` }))
  })
  app.post('/api/v2/*', async (req, reply) => {
    const path = new URL(req.url, 'http://x').pathname.slice('/api/v2/'.length)
    const body = req.body as { id: unknown; method: string; params: Record<string, unknown> }
    controls.push({ path, method: body.method, params: body.params })
    if (opts.forbidden?.includes(path)) {
      return reply.code(403).send({ jsonrpc: '2.0', id: body.id, error: { code: -32600, message: "you need to have role 'admins'" } })
    }
    const result = body.method === 'rebuild' || body.method === 'force' ? [99, { 1: 99 }] : null
    return { id: body.id, jsonrpc: '2.0', result }
  })
  app.register(async (scope) => {
    scope.get('/ws', { websocket: true }, (socket) => {
      if (refusing) { socket.terminate(); return }
      const paths = new Set<string>()
      sockets.set(socket, paths)
      socket.on('close', () => sockets.delete(socket))
      socket.on('message', (raw) => {
        const frame = JSON.parse(String(raw)) as { _id: unknown; cmd: string; path: string }
        if (frame.cmd === 'startConsuming') {
          paths.add(frame.path)
          for (const w of waiters.filter((x) => x.path === frame.path)) { waiters.splice(waiters.indexOf(w), 1); w.resolve() }
        } else if (frame.cmd === 'stopConsuming') paths.delete(frame.path)
        socket.send(JSON.stringify(frame.cmd === 'ping' ? { msg: 'pong', code: 200, _id: frame._id } : { msg: 'OK', code: 200, _id: frame._id }))
      })
    })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${address.port}/`,
    data: d,
    controls,
    publish(key, message) {
      const frame = JSON.stringify({ k: key, m: message })
      for (const [socket, paths] of sockets) if ([...paths].some((p) => keyMatches(p, key))) socket.send(frame)
    },
    subscribed(path) {
      if ([...sockets.values()].some((paths) => paths.has(path))) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ path, resolve }))
    },
    dropSockets() {
      for (const socket of sockets.keys()) socket.terminate()
      sockets.clear()
    },
    refuseSockets(refuse) { refusing = refuse },
    close: () => app.close(),
  }
}

function sortLimit(rows: Row[], q: Query): Row[] {
  let out = [...rows]
  for (const order of q.getAll('order').reverse()) {
    const desc = order.startsWith('-')
    const key = desc ? order.slice(1) : order
    out.sort((a, b) => ((a[key] as number) - (b[key] as number)) * (desc ? -1 : 1))
  }
  if (q.has('limit')) out = out.slice(0, Number(q.get('limit')))
  return out
}

function mapped<T, U>(v: T | undefined, f: (v: T) => U): U | undefined {
  return v === undefined ? undefined : f(v)
}
