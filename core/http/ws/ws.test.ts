import { test } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket from 'ws'
import { createHarness, seed, type Harness } from '../test-harness.ts'
import { SLOW_CLIENT_CLOSE } from './ws-client.ts'

let h: Harness
let ids: Awaited<ReturnType<typeof seed>>
let port: number

test.before(async () => {
  h = await createHarness({ server: { wsMaxBufferedBytes: 64 * 1024 } })
  ids = await seed(h)
  port = (await h.server.listen()).port
})
test.after(async () => { await h.close() })

/** A client that queues every frame it gets, to await them in order. */
async function client() {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  const frames: Record<string, unknown>[] = []
  const waiters: (() => void)[] = []
  ws.on('message', (d) => { frames.push(JSON.parse(String(d))); waiters.splice(0).forEach((w) => w()) })
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej) })
  return {
    ws, frames,
    send(f: unknown) { ws.send(typeof f === 'string' ? f : JSON.stringify(f)) },
    async next(): Promise<Record<string, unknown>> {
      while (!frames.length) await new Promise<void>((r) => waiters.push(r))
      return frames.shift()!
    },
    close() { ws.close() },
  }
}

test('ping, subscribe, and events in publication order', async () => {
  const c = await client()
  c.send({ cmd: 'ping', _id: 1 })
  assert.equal(await c.next(), { msg: 'pong', code: 200, _id: 1 })
  c.send({ cmd: 'startConsuming', path: 'builds/*/*', _id: 2 })
  assert.equal(await c.next(), { msg: 'OK', code: 200, _id: 2 })
  c.send({ cmd: 'startConsuming', path: 'builds/*/*', _id: 3 })
  assert.equal(await c.next(), { msg: 'OK', code: 200, _id: 3 })
  const b = await h.data.builds.addBuild({ builderid: ids.b1, buildrequestid: ids.build1.buildrequestid, workerid: ids.workerid, state_string: 'starting' })
  await h.data.builds.setBuildStateString(b.buildid, 'compiling')
  await h.data.builds.finishBuild(b.buildid, 0)
  const got = [await c.next(), await c.next(), await c.next()]
  assert.equal(got.map((f) => f.k), [`builds/${b.buildid}/new`, `builds/${b.buildid}/update`, `builds/${b.buildid}/finished`])
  const m = got[2]!.m as Record<string, unknown>
  assert.is(m.buildid, b.buildid)
  assert.is(m.complete, true)
  assert.equal(Object.keys(got[0]!), ['k', 'm'])
  c.send({ cmd: 'stopConsuming', path: 'builds/*/*', _id: 4 })
  assert.equal(await c.next(), { msg: 'OK', code: 200, _id: 4 })
  // `*` is exactly one segment: a two-segment pattern never sees three-segment keys.
  c.send({ cmd: 'startConsuming', path: 'builds/*', _id: 5 })
  assert.equal(await c.next(), { msg: 'OK', code: 200, _id: 5 })
  c.send({ cmd: 'startConsuming', path: 'masters/*/*', _id: 6 })
  assert.equal(await c.next(), { msg: 'OK', code: 200, _id: 6 })
  await h.data.builds.setBuildStateString(b.buildid, 'again')
  h.bus.publish(['masters', '1', 'started'], { masterid: 1 })
  assert.equal(await c.next(), { k: 'masters/1/started', m: { masterid: 1 } })
  c.close()
})

test('every error row of the protocol, and garbage frames', async () => {
  const c = await client()
  const cases: [unknown, Record<string, unknown>][] = [
    [{ cmd: 'ping' }, { error: "no '_id' or 'type' in websocket frame", code: 400, _id: null }],
    [{ _id: 1 }, { error: "no 'cmd' in websocket frame", code: 400, _id: null }],
    [{ _id: 2, cmd: 'fly' }, { error: "no such command type 'fly'", code: 404, _id: 2 }],
    [{ _id: 3, cmd: 'ping', extra: 1 }, { error: "Invalid method argument 'cmd_ping() got an unexpected keyword argument 'extra''", code: 400, _id: 3 }],
    [{ _id: 4, cmd: 'startConsuming' }, { error: "Invalid method argument 'cmd_startConsuming() missing 1 required positional argument: 'path''", code: 400, _id: 4 }],
    [{ _id: 5, cmd: 'startConsuming', path: 7 }, { error: "invalid path format '7'", code: 400, _id: 5 }],
    [{ _id: 6, cmd: 'stopConsuming', path: 'a/b' }, { error: "path was not consumed 'a/b'", code: 400, _id: 6 }],
    ['{not json', { error: 'invalid JSON in websocket frame', code: 400, _id: null }],
    ['[1,2]', { error: "no '_id' or 'type' in websocket frame", code: 400, _id: null }],
  ]
  for (const [frame, reply] of cases) {
    c.send(frame)
    assert.equal(await c.next(), reply, JSON.stringify(frame))
  }
  c.send({ cmd: 'ping', _id: 'still alive' })
  assert.equal(await c.next(), { msg: 'pong', code: 200, _id: 'still alive' })
  c.close()
})

test('a client that does not read is dropped with a close code, not buffered without bound', async () => {
  const c = await client()
  c.send({ cmd: 'startConsuming', path: 'bulk/*', _id: 1 })
  assert.equal(await c.next(), { msg: 'OK', code: 200, _id: 1 })
  const other = await client()
  other.send({ cmd: 'startConsuming', path: 'bulk/*', _id: 1 })
  assert.equal(await other.next(), { msg: 'OK', code: 200, _id: 1 })
  const closed = new Promise<number>((res) => c.ws.once('close', (code) => res(code)))
  ;(c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause()
  const payload = 'x'.repeat(64 * 1024)
  const sent = 400
  // The reading client takes each event before the next is published, so only the paused one falls behind.
  for (let i = 0; i < sent; i++) {
    h.bus.publish(['bulk', String(i)], { i, payload })
    assert.is(((await other.next()).m as { i: number }).i, i)
  }
  ;(c.ws as unknown as { _socket: { resume(): void } })._socket.resume()
  assert.is(await closed, SLOW_CLIENT_CLOSE)
  const received = c.frames.filter((f) => 'k' in f).length
  assert.ok(received < sent, `slow client got all ${received} events`)
  other.close()
})

test('a handshake from a foreign origin is refused', async () => {
  const status = await new Promise<number>((res) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { origin: 'http://evil.example' })
    ws.on('error', () => {})
    ws.on('unexpected-response', (req, r) => { res(r.statusCode ?? 0); req.destroy() })
    ws.on('open', () => { res(101); ws.close() })
  })
  assert.is(status, 403)
})

test.run()
