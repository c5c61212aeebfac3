import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Logger } from '../../util/logger.ts'
import type { WorkerConnection, WorkerRegistry } from '../worker-connection.ts'
import { parseBasicAuth } from './basic-auth.ts'
import { MsgpackConnection, type WorkerSettings } from './msgpack-connection.ts'

export interface MsgpackListenerOptions {
  /** Buildbot listens on every interface; default `0.0.0.0`. */
  host?: string
  /** 0 picks a free port (see `start()`'s result). */
  port: number
  registry: WorkerRegistry
  log: Logger
  /** Largest accepted WebSocket message; bigger ones close the connection (1009). Default 16 MiB. */
  maxFrameBytes?: number
  /** How long a connected worker has to answer the duplicate-connection ping (Buildbot: 10 s). */
  duplicatePingTimeoutMs?: number
  /** Answer deadline for each handshake request and for pings. Default 30 s. */
  requestTimeoutMs?: number
  keepaliveMs?: number
  settings?: Partial<WorkerSettings>
}

export interface MsgpackListener {
  start(): Promise<{ port: number }>
  /** Stops accepting and closes every connection. */
  stop(): Promise<void>
}

/**
 * The master's `msgpack_experimental_v7` endpoint (specs/buildbot-compat.md §3.1, §3.3): Basic
 * auth in the WebSocket handshake, the duplicate-name rule, then the attach sequence and
 * `registry.attach`. The request path is ignored, as Buildbot does.
 */
export function createMsgpackListener(opts: MsgpackListenerOptions): MsgpackListener {
  const { registry, log } = opts
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close' })
    res.end('WebSocket upgrade required\n')
  })
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes ?? 16 << 20, perMessageDeflate: false })
  const live = new Map<string, MsgpackConnection>()
  const settingUp = new Set<string>()
  const handshakes = new Set<Duplex>()
  let stopping = false

  function refuse(socket: Duplex, status: number, why: string, fields: Record<string, unknown>): void {
    log.warn({ ...fields, status }, `worker connection refused: ${why}`)
    if (socket.destroyed) return
    const body = `${why}\n`
    const auth = status === 401 ? 'WWW-Authenticate: Basic realm="buildbot"\r\n' : ''
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n${auth}` +
        `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
  }

  async function pingWithin(conn: WorkerConnection, ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms) })
    try {
      const answer = conn instanceof MsgpackConnection ? conn.ping('master got a duplicate connection') : conn.ping()
      return await Promise.race([answer.catch(() => false), late])
    } finally {
      clearTimeout(timer)
    }
  }

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<WebSocket | undefined> {
    return new Promise((resolve) => {
      // ws destroys the socket without calling back when the upgrade request itself is invalid.
      const gone = () => resolve(undefined)
      socket.once('close', gone)
      wss.handleUpgrade(req, socket, head, (ws) => {
        socket.off('close', gone)
        resolve(ws)
      })
    })
  }

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`
    const auth = parseBasicAuth(req.headers.authorization)
    if (auth === 'missing') return refuse(socket, 401, 'no Authorization header', { remote })
    if (auth === 'invalid') return refuse(socket, 400, 'undecodable Authorization header', { remote })
    const worker = auth.name
    if (!registry.authenticate(auth.name, auth.password)) {
      return refuse(socket, 401, 'unknown worker or wrong password', { remote, worker })
    }
    if (stopping) return refuse(socket, 503, 'master is stopping', { remote, worker })
    if (settingUp.has(worker)) return refuse(socket, 409, 'another connection of this worker is being set up', { remote, worker })
    settingUp.add(worker)
    try {
      const old = registry.connection(worker) ?? live.get(worker)
      if (old) {
        if (await pingWithin(old, opts.duplicatePingTimeoutMs ?? 10_000)) {
          return refuse(socket, 409, 'duplicate connection: the connected worker still answers', { remote, worker })
        }
        log.warn({ worker, remote }, 'connected worker does not answer; replacing it with the new connection')
        await old.disconnect('replaced by a new connection')
      }
      if (stopping || socket.destroyed) return refuse(socket, 503, 'master is stopping', { remote, worker })
      const ws = await upgrade(req, socket, head)
      if (!ws) {
        log.warn({ worker, remote }, 'worker connection refused: invalid WebSocket upgrade')
        return
      }
      req.socket.setKeepAlive(true, 60_000)
      await attach(ws, worker, remote)
    } finally {
      settingUp.delete(worker)
    }
  }

  async function attach(ws: WebSocket, worker: string, remote: string): Promise<void> {
    const conn = new MsgpackConnection(ws, worker, {
      log: log.child({ worker }),
      remote,
      requestTimeoutMs: opts.requestTimeoutMs,
      keepaliveMs: opts.keepaliveMs,
      settings: opts.settings,
    })
    live.set(worker, conn)
    void conn.closed.then(() => {
      if (live.get(worker) === conn) live.delete(worker)
    })
    try {
      await conn.handshake()
      await registry.attach(conn)
      log.info({ worker, remote, version: conn.info.version, basedir: conn.info.basedir }, 'worker attached')
    } catch (err) {
      log.warn({ worker, remote, err: (err as Error).message }, 'worker connection refused: attach failed')
      await conn.disconnect(`attach failed: ${(err as Error).message}`)
    }
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    handshakes.add(socket)
    socket.on('error', (err) => log.debug({ err: err.message }, 'worker socket error during handshake'))
    onUpgrade(req, socket, head)
      .catch((err: Error) => {
        log.error({ err: err.message }, 'worker connection refused: internal error')
        socket.destroy()
      })
      .finally(() => handshakes.delete(socket))
  })
  server.on('clientError', (err, socket) => {
    log.warn({ err: err.message }, 'worker connection refused: malformed HTTP request')
    socket.destroy()
  })

  return {
    start() {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
          server.off('error', reject)
          const port = (server.address() as AddressInfo).port
          log.info({ port }, 'msgpack worker listener started')
          resolve({ port })
        })
      })
    },
    async stop() {
      stopping = true
      const closedServer = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const s of handshakes) s.destroy()
      await Promise.all([...live.values()].map((c) => c.disconnect('master stopping')))
      server.closeAllConnections()
      wss.close()
      await closedServer
    },
  }
}
