import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { encode, decode } from '@msgpack/msgpack'
import { WebSocket } from 'ws'
import { createHarness, seed, type Harness } from '../../core/http/test-harness.ts'
import { createLogger } from '../../core/util/logger.ts'
import { createMsgpackListener, type MsgpackListener } from '../../core/workers/msgpack/msgpack-listener.ts'
import { TestRegistry } from '../../core/workers/msgpack/test-worker.ts'

// Property-based fuzzing of the two WebSocket edges: the UI's `/ws` and the workers' msgpack
// port. Whatever frames a client sends, the server answers with an error frame or closes that
// connection, never crashes, and a well-behaved client is served afterwards. Bounded.
const RUNS = Number(process.env.FUZZ_RUNS ?? 200)
const CASES_PER_CONNECTION = 20

let h: Harness
let wsPort = 0
let listener: MsgpackListener
let mpPort = 0
// A name per connection: the duplicate-name rule is not what this test is about.
const registry = new TestRegistry()
for (let i = 0; i < 1000; i++) registry.addWorker(`fuzz${i}`, 'fuzzpw')
let nextWorker = 0
const auth = () => `Basic ${Buffer.from(`fuzz${nextWorker++ % 1000}:fuzzpw`).toString('base64')}`

test.before(async () => {
  h = await createHarness()
  await seed(h)
  wsPort = (await h.server.listen()).port
  listener = createMsgpackListener({ host: '127.0.0.1', port: 0, registry, log: createLogger({ level: 'silent' }), maxFrameBytes: 64 * 1024, requestTimeoutMs: 2_000, duplicatePingTimeoutMs: 300 })
  mpPort = (await listener.start()).port
})
test.after(async () => {
  await listener.stop()
  await h.close()
})

function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => res(ws))
    ws.once('error', rej)
  })
}

/** Sends frames, then a ping the edge must still answer (or notes that it closed the connection). */
async function sendAll(ws: WebSocket, frames: (string | Buffer)[], ping: () => Promise<boolean>): Promise<'answered' | 'closed'> {
  const closed = new Promise<'closed'>((res) => ws.once('close', () => res('closed')))
  for (const f of frames) if (ws.readyState === WebSocket.OPEN) ws.send(f)
  if (ws.readyState !== WebSocket.OPEN) return 'closed'
  const r = await Promise.race([ping().then((ok) => (ok ? 'answered' as const : 'closed' as const)), closed])
  ws.terminate()
  return r
}

const jsonish = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, fc.string({ maxLength: 10 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
    fc.constantFrom(2 ** 31, -1, 1e300, 'builds/*/*', 'builds/1/steps/*/*', '*', '', '../', 'a'.repeat(300)),
    fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('v'), { maxKeys: 3 })),
})).v
const wsFrame = fc.oneof(
  fc.record({ cmd: fc.constantFrom('startConsuming', 'stopConsuming', 'ping', 'bogus', '__proto__'), path: jsonish, _id: jsonish }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 40 }),
  fc.integer({ min: 1, max: 3000 }).map((n) => `{"cmd":"ping","_id":${'['.repeat(n)}${']'.repeat(n)}}`),
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
)

test('/ws: any frames get error answers or a closed connection; the server keeps serving', async () => {
  let n = 0
  const outcomes = { answered: 0, closed: 0 }
  await fc.assert(fc.asyncProperty(fc.array(wsFrame, { minLength: 1, maxLength: CASES_PER_CONNECTION }), async (frames) => {
    n += frames.length
    const ws = await open(`ws://127.0.0.1:${wsPort}/ws`)
    const answers: Record<string, unknown>[] = []
    ws.on('message', (d) => { answers.push(JSON.parse(String(d)) as Record<string, unknown>) })
    const outcome = await sendAll(ws, frames, () => new Promise<boolean>((res) => {
      const id = 'fuzz-ping'
      ws.on('message', (d) => { if ((JSON.parse(String(d)) as { _id?: unknown })._id === id) res(true) })
      ws.send(JSON.stringify({ cmd: 'ping', _id: id }))
    }))
    outcomes[outcome]++
    for (const a of answers) if (typeof a.code === 'number') assert.ok(a.code < 500, `no 5xx answer: ${JSON.stringify(a).slice(0, 200)}`)
  }), { numRuns: Math.max(1, Math.round(RUNS / 10)) })
  // A well-behaved client is still served.
  const ws = await open(`ws://127.0.0.1:${wsPort}/ws`)
  const pong = await new Promise<unknown>((res) => { ws.once('message', (d) => res(JSON.parse(String(d)))); ws.send(JSON.stringify({ cmd: 'ping', _id: 1 })) })
  assert.equal(pong, { msg: 'pong', code: 200, _id: 1 })
  ws.close()
  const rest = await fetch(`http://127.0.0.1:${wsPort}/api/v2/builds`)
  assert.is(rest.status, 200)
  console.log(`/ws: ${n} frames on ${outcomes.answered + outcomes.closed} connections, ${outcomes.answered} still answering, ${outcomes.closed} closed by the server, 0 crashes`)
})

const mpValue = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, fc.string({ maxLength: 10 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 8 }),
    fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('v'), { maxKeys: 3 })),
})).v
const mpFrame = fc.oneof(
  fc.record({ op: fc.constantFrom('response', 'update', 'complete', 'print', 'keepalive', 'get_worker_info', 'bogus'), seq_number: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 3 })), command_id: mpValue, args: mpValue, result: mpValue, is_exception: fc.boolean() }, { requiredKeys: [] })
    .map((o) => Buffer.from(encode(o))),
  mpValue.map((v) => Buffer.from(encode(v))),
  fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a)),
  fc.string({ maxLength: 30 }),
)

test('worker port: any msgpack frames from an authenticated peer close its connection cleanly; others still attach', async () => {
  let n = 0
  const outcomes = { answered: 0, closed: 0 }
  await fc.assert(fc.asyncProperty(fc.array(mpFrame, { minLength: 1, maxLength: CASES_PER_CONNECTION }), async (frames) => {
    n += frames.length
    const ws = await open(`ws://127.0.0.1:${mpPort}`, { Authorization: auth() })
    // The master starts the attach sequence with requests of its own; the peer answers none of
    // them correctly and sends its frames instead.
    outcomes[await sendAll(ws, frames, () => new Promise<boolean>((res) => {
      ws.send(encode({ op: 'keepalive', seq_number: 999_999 }))
      ws.once('message', () => res(true))
      setTimeout(() => res(false), 2_500)
    }))]++
  }), { numRuns: Math.max(1, Math.round(RUNS / 10)) })
  // A peer that speaks the protocol is still welcome: the master sends it the first attach request.
  const ws = new WebSocket(`ws://127.0.0.1:${mpPort}`, { headers: { Authorization: auth() } })
  const first = await new Promise<Record<string, unknown>>((res, rej) => { ws.once('message', (d) => res(decode(d as Buffer) as Record<string, unknown>)); ws.once('error', rej) })
  assert.type(first.op, 'string')
  ws.terminate()
  console.log(`worker port: ${n} frames on ${outcomes.answered + outcomes.closed} connections (${outcomes.closed} closed by the master), 0 crashes`)
})

test.run()
