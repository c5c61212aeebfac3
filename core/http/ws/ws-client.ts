import type { WebSocket } from 'ws'
import type { Bus, Subscription } from '../../bus/bus.ts'

export interface WsClientOptions {
  bus: Bus
  /** Close a client whose unsent data exceeds this many bytes (it cannot keep up). */
  maxBufferedBytes: number
  /** Serializes an event message (cached per message by the caller). */
  encode(message: unknown): string
  onDrop?(reason: string): void
  /** Whether an event may go to this client (private projects); default: every event. */
  visible?(key: readonly string[], message: unknown): boolean
}

/** Close code for a client dropped because it does not read its events. */
export const SLOW_CLIENT_CLOSE = 4008

type Frame = Record<string, unknown>
const reply = (socket: WebSocket, frame: Frame) => { if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame)) }
const pyRepr = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v))

/**
 * One `/ws` client, Buildbot's protocol (§2): `startConsuming` / `stopConsuming` / `ping` with
 * `_id` replies; each consumed path is a bus subscription; events go out as `{"k", "m"}`.
 * Events never wait for the client: past `maxBufferedBytes` of unsent data it is dropped.
 */
export function attachWsClient(socket: WebSocket, opts: WsClientOptions): void {
  const subs = new Map<string, Subscription>()
  let dropped = false

  const drop = (reason: string) => {
    if (dropped) return
    dropped = true
    for (const s of subs.values()) s.unsubscribe()
    subs.clear()
    opts.onDrop?.(reason)
    socket.close(SLOW_CLIENT_CLOSE, reason)
    // A client that does not read never completes the close handshake either; one that reads again
    // gets the close code after what was already buffered (seconds on a loaded machine).
    setTimeout(() => socket.terminate(), 10_000).unref()
  }

  const commands: Record<string, { args: string[]; run(id: unknown, a: Frame): void }> = {
    ping: { args: [], run: (id) => reply(socket, { msg: 'pong', code: 200, _id: id }) },
    startConsuming: {
      args: ['path'],
      run(id, a) {
        const path = a.path
        if (typeof path !== 'string') return reply(socket, { error: `invalid path format '${JSON.stringify(path)}'`, code: 400, _id: id })
        if (!subs.has(path)) {
          subs.set(path, opts.bus.subscribe(path.split('/'), (key, message) => {
            if (dropped) return
            if (opts.visible && !opts.visible(key, message)) return
            if (socket.bufferedAmount > opts.maxBufferedBytes) return drop('client too slow')
            socket.send(`{"k":${JSON.stringify(key.join('/'))},"m":${opts.encode(message)}}`)
          }))
        }
        reply(socket, { msg: 'OK', code: 200, _id: id })
      },
    },
    stopConsuming: {
      args: ['path'],
      run(id, a) {
        const path = a.path
        if (typeof path !== 'string') return reply(socket, { error: `invalid path format '${JSON.stringify(path)}'`, code: 400, _id: id })
        const s = subs.get(path)
        if (!s) return reply(socket, { error: `path was not consumed '${path}'`, code: 400, _id: id })
        s.unsubscribe()
        subs.delete(path)
        reply(socket, { msg: 'OK', code: 200, _id: id })
      },
    },
  }

  socket.on('message', (data, isBinary) => {
    if (dropped) return
    let frame: unknown
    try { frame = JSON.parse(isBinary ? Buffer.from(data as Buffer).toString('utf8') : String(data)) } catch {
      return reply(socket, { error: 'invalid JSON in websocket frame', code: 400, _id: null })
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return reply(socket, { error: "no '_id' or 'type' in websocket frame", code: 400, _id: null })
    const f = frame as Frame
    if (!('_id' in f) && !('type' in f)) return reply(socket, { error: "no '_id' or 'type' in websocket frame", code: 400, _id: null })
    if (!('cmd' in f)) return reply(socket, { error: "no 'cmd' in websocket frame", code: 400, _id: null })
    const id = f._id ?? null
    const cmd = typeof f.cmd === 'string' && Object.hasOwn(commands, f.cmd) ? commands[f.cmd]! : undefined
    if (!cmd) return reply(socket, { error: `no such command type ${pyRepr(f.cmd)}`, code: 404, _id: id })
    const args = Object.keys(f).filter((k) => k !== '_id' && k !== 'cmd' && k !== 'type')
    const extra = args.find((k) => !cmd.args.includes(k))
    if (extra) return reply(socket, { error: `Invalid method argument 'cmd_${f.cmd}() got an unexpected keyword argument '${extra}''`, code: 400, _id: id })
    const missing = cmd.args.find((k) => !(k in f))
    if (missing) return reply(socket, { error: `Invalid method argument 'cmd_${f.cmd}() missing 1 required positional argument: '${missing}''`, code: 400, _id: id })
    try { cmd.run(id, f) } catch (e) { reply(socket, { error: `Internal Error '${(e as Error).message}'`, code: 500, _id: id }) }
  })

  const cleanup = () => { for (const s of subs.values()) s.unsubscribe(); subs.clear() }
  socket.on('close', cleanup)
  socket.on('error', cleanup)
}

/**
 * Encodes each event message once, however many clients receive it. The bus delivers
 * synchronously, so the cache lives only until the next microtask: a publisher that later
 * mutates and republishes the same object is encoded afresh.
 */
export function createMessageEncoder(): (message: unknown) => string {
  let last: object | undefined
  let lastText = ''
  return (m) => {
    if (typeof m !== 'object' || m === null) return JSON.stringify(m ?? null)
    if (m === last) return lastText
    if (last === undefined) queueMicrotask(() => { last = undefined })
    last = m
    lastText = JSON.stringify(m)
    return lastText
  }
}
