import { decode, encode } from '@msgpack/msgpack'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { WebSocket } from 'ws'
import { haveTool } from '../../../test/support/tools.ts'
import { createLogger } from '../../util/logger.ts'
import { WorkerLostError, type WorkerConnection } from '../worker-connection.ts'
import { createMsgpackListener, type MsgpackListener } from './msgpack-listener.ts'
import { startTestWorker, TestRegistry, type TestWorker } from './test-worker.ts'

const enabled = haveTool('buildbot-worker', 'apt-get install -y buildbot-worker')
const t = enabled ? test : test.skip

const lines: string[] = []
const log = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } })
const registry = new TestRegistry().addWorker('w1', 'pw1').addWorker('w2', 'pw2').addWorker('raw', 'rawpw').addWorker('dup', 'duppw').addWorker('peer', 'peerpw')
const ctx = { workers: [] as TestWorker[], scratch: '' } as { listener: MsgpackListener; port: number; workers: TestWorker[]; scratch: string }

function basic(name: string, password: string): string {
  return `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`
}

/** Status of a handshake the listener refuses (or 101 if it accepts). */
function handshakeStatus(headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${ctx.port}/some/path`, { headers })
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); ws.terminate() })
    ws.on('open', () => { resolve(101); ws.close() })
    ws.on('error', (err) => { if (!err.message.includes('Unexpected server response')) reject(err) })
  })
}

type Msg = Record<string, unknown>

/**
 * A protocol peer written against the spec, to send what a real worker never sends. It answers
 * the attach sequence while `answering` is true.
 */
class ProtocolPeer {
  readonly ws: WebSocket
  answering = true
  /** Called for master requests the peer does not answer itself. */
  onRequest: ((m: Msg) => void) | undefined
  readonly opened: Promise<void>
  readonly closed: Promise<number>
  private readonly responses = new Map<number, (m: Msg) => void>()
  private seq = 0
  received: Msg[] = []

  constructor(name: string, password: string) {
    this.ws = new WebSocket(`ws://127.0.0.1:${ctx.port}`, { headers: { Authorization: basic(name, password) } })
    this.opened = new Promise((resolve, reject) => { this.ws.once('open', () => resolve()); this.ws.once('error', reject) })
    this.closed = new Promise((resolve) => this.ws.once('close', (code) => resolve(code)))
    this.ws.on('message', (data) => {
      const m = decode(data as Buffer) as Msg
      this.received.push(m)
      if (m.op === 'response') return this.responses.get(m.seq_number as number)?.(m)
      if (m.op === 'start_command' || m.op === 'interrupt_command') return this.onRequest?.(m)
      if (!this.answering) return
      const result = m.op === 'get_worker_info' ? { basedir: '/nonexistent', system: 'posix', version: 'peer', environ: {} } : null
      this.ws.send(encode({ op: 'response', seq_number: m.seq_number, result }))
    })
  }

  send(msg: Msg): void {
    this.ws.send(encode(msg))
  }

  request(msg: Msg): Promise<Msg> {
    const seq = this.seq++
    return new Promise((resolve) => {
      this.responses.set(seq, resolve)
      this.ws.send(encode({ ...msg, seq_number: seq }))
    })
  }

  attachedPrinted(): boolean {
    return this.received.some((m) => m.op === 'set_worker_settings')
  }
}

test.before(async () => {
  if (!enabled) return
  ctx.listener = createMsgpackListener({ host: '127.0.0.1', port: 0, registry, log, maxFrameBytes: 64 * 1024, duplicatePingTimeoutMs: 300 })
  ctx.port = (await ctx.listener.start()).port
  ctx.scratch = await mkdtemp(join(tmpdir(), 'bbnix-listener-'))
})

test.after(async () => {
  if (!enabled) return
  await ctx.listener.stop()
  await Promise.all(ctx.workers.map((w) => w.stop()))
  await rm(ctx.scratch, { recursive: true, force: true })
})

async function realWorker(name: string, password: string): Promise<[TestWorker, WorkerConnection]> {
  const attached = registry.nextAttach(name)
  const w = await startTestWorker({ port: ctx.port, name, password })
  ctx.workers.push(w)
  return [w, await attached]
}

t('handshakes without valid credentials are refused with 401/400 and logged', async () => {
  assert.is(await handshakeStatus({}), 401)
  assert.is(await handshakeStatus({ Authorization: 'Bearer abc' }), 400)
  assert.is(await handshakeStatus({ Authorization: 'Basic !!!' }), 400)
  assert.is(await handshakeStatus({ Authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` }), 400)
  assert.is(await handshakeStatus({ Authorization: basic('w1', 'wrong') }), 401)
  assert.is(await handshakeStatus({ Authorization: basic('nobody', 'pw1') }), 401)
  const refusals = lines.filter((l) => l.includes('worker connection refused'))
  assert.is(refusals.length, 6)
  assert.ok(refusals.some((l) => l.includes('"worker":"nobody"')))
  assert.not.ok(lines.some((l) => l.includes('"wrong"')), 'the password is never logged')
})

t('malformed frames are logged and dropped; an oversized frame closes only that connection', async () => {
  const peer = new ProtocolPeer('raw', 'rawpw')
  await peer.opened
  peer.ws.send('a text frame')
  peer.ws.send(Buffer.from([0xc1, 0xff, 0x00]))
  peer.ws.send(encode({ no: 'op' }))
  peer.ws.send(encode(42))
  const attached = await registry.connected('raw')
  assert.ok(peer.attachedPrinted())
  const unknown = await peer.request({ op: 'frobnicate' })
  assert.equal(unknown.is_exception, true)
  assert.is(unknown.result, 'Command frobnicate does not exist.')
  const noCmd = await peer.request({ op: 'update', command_id: '999', args: [] })
  assert.is(noCmd.result, 'unknown "command_id"')
  assert.ok(lines.some((l) => l.includes('text frame from worker ignored')))
  assert.ok(lines.some((l) => l.includes('undecodable frame from worker dropped')))
  assert.is(lines.filter((l) => l.includes('frame without op or seq_number')).length, 2)
  peer.ws.send(Buffer.alloc(100 * 1024))
  assert.is(await peer.closed, 1009)
  assert.match(await attached.closed, /Max payload size exceeded/)
})

t('requests before attach are refused; complete and a late rc may precede the start_command response', async () => {
  const peer = new ProtocolPeer('peer', 'peerpw')
  peer.answering = false
  await peer.opened
  const early = await peer.request({ op: 'update', command_id: '0', args: [] })
  assert.equal([early.is_exception, early.result], [true, 'Worker not authenticated.'])
  const print = peer.received.find((m) => m.op === 'print')!
  peer.answering = true
  peer.send({ op: 'response', seq_number: print.seq_number, result: null })
  const conn = await registry.connected('peer')
  let n = 0
  peer.onRequest = (m) => {
    const id = m.command_id
    const bin = new TextEncoder().encode('bin-out\n')
    const update = (args: unknown[]) => peer.request({ op: 'update', command_id: id, args })
    if (n++ === 0) {
      // Updates and complete first, the response last (as the real worker does for fast commands).
      void update([['stdout', ['a\nb\n', [1, 3], [0, 0]]], ['header', [bin, [7], [0]]], ['log', ['my.log', ['L1\n', [2], [0]]]], ['files', ['x']], ['rc', 0], ['elapsed', 0.5]])
      void peer.request({ op: 'complete', command_id: id, args: null })
    } else {
      // complete before the rc: the master waits briefly for it.
      void peer.request({ op: 'complete', command_id: id, args: null }).then(() => update([['rc', 5]]))
    }
    peer.send({ op: 'response', seq_number: m.seq_number, result: null })
  }
  const got: string[] = []
  const r = await conn.runCommand({ name: 'listdir', builderName: 'b', args: { path: '.' } }, {
    output: (s, text) => got.push(`${s}:${text}`),
    logfile: (name, text) => got.push(`${name}:${text}`),
    update: (k, v) => got.push(`${k}=${JSON.stringify(v)}`),
  })
  assert.equal(r, { rc: 0, updates: { files: ['x'] }, elapsed: 0.5 })
  assert.equal(got, ['o:a\nb\n', 'h:bin-out\n', 'my.log:L1\n', 'files=["x"]'])
  const late = await conn.runCommand({ name: 'listdir', builderName: 'b', args: { path: '.' } }, {})
  assert.is(late.rc, 5)
  peer.ws.close()
  await conn.closed
})

t('wrong credentials do not disturb the listener: a real worker attaches and runs a command', async () => {
  const [, conn] = await realWorker('w1', 'pw1')
  const r = await conn.runCommand({ name: 'shell', builderName: 'b', args: { workdir: '.', command: 'echo hi' } }, {})
  assert.is(r.rc, 0)
})

t('a duplicate connection is refused while the connected worker answers', async () => {
  const first = new ProtocolPeer('dup', 'duppw')
  const conn1 = await registry.nextAttach('dup')
  assert.is(await handshakeStatus({ Authorization: basic('dup', 'duppw') }), 409)
  assert.is(registry.connection('dup'), conn1)
  // Once it stops answering, the next connection replaces it.
  first.answering = false
  const second = new ProtocolPeer('dup', 'duppw')
  const conn2 = await registry.nextAttach('dup')
  assert.is.not(conn2, conn1)
  assert.is(await conn1.closed, 'replaced by a new connection')
  await first.closed
  second.ws.close()
  await conn2.closed
})

t('two workers run commands in parallel', async () => {
  const [, c1] = await realWorker('w2', 'pw2')
  const c0 = await registry.connected('w1')
  const a = join(ctx.scratch, 'A')
  const b = join(ctx.scratch, 'B')
  // Each command waits for the other's file: both finish only if they run at the same time.
  const wait = (mine: string, theirs: string) => `touch ${mine}; while [ ! -e ${theirs} ]; do sleep 0.02; done; echo done`
  const [r0, r1] = await Promise.all([
    c0.runCommand({ name: 'shell', builderName: 'b', args: { workdir: '.', command: wait(a, b) } }, {}),
    c1.runCommand({ name: 'shell', builderName: 'b', args: { workdir: '.', command: wait(b, a) } }, {}),
  ])
  assert.is(r0.rc, 0)
  assert.is(r1.rc, 0)
  assert.is.not(c0.info.basedir, c1.info.basedir)
})

t('killing the worker mid-command rejects with WorkerLostError and resolves closed', async () => {
  const [w, conn] = [ctx.workers.find((x) => x.name === 'w2')!, await registry.connected('w2')]
  const pidFile = join(ctx.scratch, 'lost.pid')
  const running = conn.runCommand({ name: 'shell', builderName: 'b', args: { workdir: '.', command: `echo $$ > ${pidFile}; exec sleep 30` } }, {})
  let pid = ''
  while (!(pid = await readFile(pidFile, 'utf8').catch(() => '')).endsWith('\n')) await new Promise((r) => setTimeout(r, 20))
  w.kill()
  const err = await running.catch((e: unknown) => e)
  assert.instance(err, WorkerLostError)
  assert.type(await conn.closed, 'string')
  assert.is(registry.connection('w2'), undefined)
  process.kill(Number(pid), 'SIGKILL')
})

t('stop closes every connection and is idempotent', async () => {
  const conn = await registry.connected('w1')
  await ctx.listener.stop()
  assert.is(await conn.closed, 'master stopping')
  await ctx.listener.stop()
})

test.run()
