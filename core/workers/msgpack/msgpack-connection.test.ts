import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { haveTool } from '../../../test/support/tools.ts'
import { createLogger } from '../../util/logger.ts'
import { BufferReader, LocalDirectoryWriter, LocalFileReader, LocalFileWriter } from '../transfer.ts'
import { WorkerLostError, type CommandListener, type CommandResult, type RemoteCommand, type WorkerConnection } from '../worker-connection.ts'
import { createMsgpackListener, type MsgpackListener } from './msgpack-listener.ts'
import { startTestWorker, TestRegistry, type TestWorker } from './test-worker.ts'

const enabled = haveTool('buildbot-worker', 'apt-get install -y buildbot-worker')
const t = enabled ? test : test.skip

const ctx = {} as { listener: MsgpackListener; worker: TestWorker; conn: WorkerConnection; scratch: string }
const B = 'proj/main' // a builder name with a slash: its directory is `proj_main`

interface Collected extends CommandListener {
  o: string
  e: string
  h: string
}
function collect(): Collected {
  const c: Collected = {
    o: '', e: '', h: '',
    output(stream, text) { c[stream] += text },
  }
  return c
}

function run(name: RemoteCommand['name'], args: Record<string, unknown>, extra: Partial<RemoteCommand> = {}, l: CommandListener = {}): Promise<CommandResult> {
  return ctx.conn.runCommand({ name, builderName: B, args, ...extra }, l)
}

async function waitForFile(path: string): Promise<string> {
  for (;;) {
    const s = await readFile(path, 'utf8').catch(() => '')
    if (s.endsWith('\n')) return s.trim()
    await new Promise((r) => setTimeout(r, 20))
  }
}

test.before(async () => {
  if (!enabled) return
  const registry = new TestRegistry().addWorker('w1', 'secret-pw')
  ctx.listener = createMsgpackListener({ host: '127.0.0.1', port: 0, registry, log: createLogger({ level: 'error' }) })
  const { port } = await ctx.listener.start()
  const attached = registry.connected('w1')
  ctx.worker = await startTestWorker({ port, name: 'w1', password: 'secret-pw' })
  ctx.conn = await attached
  ctx.scratch = await mkdtemp(join(tmpdir(), 'bbnix-msgpack-'))
})

test.after(async () => {
  if (!enabled) return
  await ctx.listener.stop()
  await ctx.worker.stop()
  await rm(ctx.scratch, { recursive: true, force: true })
})

t('get_worker_info is kept on the connection', () => {
  const info = ctx.conn.info
  assert.is(ctx.conn.workerName, 'w1')
  assert.is(info.basedir, ctx.worker.dir)
  assert.is(info.system, 'posix')
  assert.ok(String(info.version).startsWith('3.'), String(info.version))
  assert.type(info.numcpus, 'number')
  assert.is(ctx.conn.builderDir(B), join(ctx.worker.dir, 'proj_main'))
})

t('setBuilderList creates the builder directories', async () => {
  await ctx.conn.setBuilderList([{ name: B, builddir: 'proj_main' }, { name: 'other', builddir: 'other-dir' }])
  assert.ok((await stat(join(ctx.worker.dir, 'proj_main'))).isDirectory())
  assert.ok((await stat(join(ctx.worker.dir, 'other-dir'))).isDirectory())
  assert.is(ctx.conn.builderDir('other'), join(ctx.worker.dir, 'other-dir'))
  // A second call with the directories already there is a no-op.
  await ctx.conn.setBuilderList([{ name: B, builddir: 'proj_main' }, { name: 'other', builddir: 'other-dir' }])
})

t('shell: stdout, stderr, header and a non-zero rc', async () => {
  const l = collect()
  const r = await run('shell', { workdir: '.', command: ['sh', '-c', 'echo out1; echo err1 >&2; printf "partial"; exit 3'], timeout: 60 }, {}, l)
  assert.is(r.rc, 3)
  // The worker ends a partial last line with a newline when it flushes.
  assert.is(l.o, 'out1\npartial\n')
  assert.is(l.e, 'err1\n')
  assert.ok(l.h.includes('argv:'), l.h)
  assert.type(r.elapsed, 'number')
  assert.is(r.failureReason, undefined)
})

t('shell: env and relative workdir', async () => {
  await run('mkdir', { paths: ['sub/dir'] })
  const l = collect()
  const r = await run('shell', { workdir: 'sub/dir', command: 'echo "$FOO"; pwd', env: { FOO: 'bar baz' }, want_stderr: 0 }, {}, l)
  assert.is(r.rc, 0)
  assert.is(l.o, `bar baz\n${join(ctx.worker.dir, 'proj_main', 'sub/dir')}\n`)
})

t('shell: a watched logfile streams through listener.logfile', async () => {
  let logged = ''
  const r = await run('shell', { workdir: '.', command: 'printf "one\\ntwo\\n" > watched.log', logfiles: { mylog: 'watched.log' } }, {}, {
    logfile(name, text) { logged += `${name}:${text}` },
  })
  assert.is(r.rc, 0)
  assert.is(logged, 'mylog:one\ntwo\n')
})

t('upload_file: bytes and timestamp arrive', async () => {
  const data = randomBytes(100_000)
  const src = join(ctx.conn.builderDir(B), 'up.bin')
  await writeFile(src, data)
  const dest = join(ctx.scratch, 'nested', 'up.bin')
  const r = await run('upload_file', { path: 'up.bin', blocksize: 16_384, maxsize: null, keepstamp: true }, { writer: new LocalFileWriter(dest) })
  assert.is(r.rc, 0)
  assert.ok(Buffer.compare(await readFile(dest), data) === 0)
  assert.is(Math.floor((await stat(dest)).mtimeMs / 1000), Math.floor((await stat(src)).mtimeMs / 1000))
})

t('upload_file: maxsize truncates and fails', async () => {
  const dest = join(ctx.scratch, 'trunc.bin')
  const l = collect()
  const r = await run('upload_file', { path: 'up.bin', blocksize: 4096, maxsize: 10_000, keepstamp: false }, { writer: new LocalFileWriter(dest, { maxsize: 10_000 }) }, l)
  assert.is(r.rc, 1)
  assert.is((await stat(dest)).size, 10_000)
})

for (const compress of [null, 'gz', 'bz2'] as const) {
  t(`upload_directory (compress ${compress})`, async () => {
    const tree = join(ctx.conn.builderDir(B), 'tree')
    await mkdir(join(tree, 'sub'), { recursive: true })
    const bin = randomBytes(50_000)
    await writeFile(join(tree, 'a.txt'), 'hello\n')
    await writeFile(join(tree, 'sub', 'b.bin'), bin)
    const dest = join(ctx.scratch, `tree-${compress}`)
    const r = await run('upload_directory', { path: 'tree', blocksize: 16_384, maxsize: null, compress }, { writer: new LocalDirectoryWriter(dest, { compress }) })
    assert.is(r.rc, 0)
    assert.is(await readFile(join(dest, 'a.txt'), 'utf8'), 'hello\n')
    assert.ok(Buffer.compare(await readFile(join(dest, 'sub', 'b.bin')), bin) === 0)
  })
}

t('download_file sends the real bytes (from memory and from a file)', async () => {
  const data = randomBytes(70_000)
  const r = await run('download_file', { path: 'down/d.bin', blocksize: 16_384, maxsize: null, mode: 0o640 }, { reader: new BufferReader(data) })
  assert.is(r.rc, 0)
  const dest = join(ctx.conn.builderDir(B), 'down', 'd.bin')
  assert.ok(Buffer.compare(await readFile(dest), data) === 0)
  assert.is((await stat(dest)).mode & 0o777, 0o640)

  const local = join(ctx.scratch, 'local.bin')
  await writeFile(local, data.subarray(0, 33_333))
  const r2 = await run('download_file', { path: 'down/e.bin', blocksize: 8192, maxsize: null, mode: null }, { reader: new LocalFileReader(local) })
  assert.is(r2.rc, 0)
  assert.ok(Buffer.compare(await readFile(join(ctx.conn.builderDir(B), 'down', 'e.bin')), data.subarray(0, 33_333)) === 0)
})

t('mkdir, stat, glob, listdir, cpdir, rmfile, rmdir', async () => {
  const base = ctx.conn.builderDir(B)
  assert.is((await run('mkdir', { paths: ['fs/a', 'fs/b'] })).rc, 0)
  await writeFile(join(base, 'fs', 'a', 'f.txt'), 'x')
  const st = await run('stat', { path: 'fs/a/f.txt' })
  assert.is(st.rc, 0)
  const s = st.updates.stat as number[]
  assert.is(s.length, 10)
  assert.is(s[6], 1) // size
  const missing = await run('stat', { path: 'fs/nope' })
  assert.is.not(missing.rc, 0)
  const g = await run('glob', { path: 'fs/*' })
  assert.equal([...(g.updates.files as string[])].sort(), [join(base, 'fs/a'), join(base, 'fs/b')])
  const ls = await run('listdir', { path: 'fs' })
  assert.equal([...(ls.updates.files as string[])].sort(), ['a', 'b'])
  assert.is((await run('cpdir', { from_path: 'fs/a', to_path: 'fs/c' })).rc, 0)
  assert.is(await readFile(join(base, 'fs', 'c', 'f.txt'), 'utf8'), 'x')
  assert.is((await run('rmfile', { path: 'fs/c/f.txt' })).rc, 0)
  assert.not.ok(existsSync(join(base, 'fs', 'c', 'f.txt')))
  assert.is((await run('rmdir', { paths: ['fs'] })).rc, 0)
  assert.not.ok(existsSync(join(base, 'fs')))
})

t('an unknown command is rejected with the worker\'s error', async () => {
  const err = await ctx.conn.runCommand({ name: 'frobnicate' as RemoteCommand['name'], builderName: B, args: {} }, {}).catch((e: Error) => e)
  assert.instance(err, Error)
  assert.match((err as Error).message, /frobnicate/)
})

t('a writer that fails makes the command fail with the worker\'s failure text', async () => {
  const blocker = join(ctx.scratch, 'a-file')
  await writeFile(blocker, '')
  // The destination's parent is a regular file, so the first write fails on the master.
  const err = await run('upload_file', { path: 'up.bin', blocksize: 16_384, maxsize: null, keepstamp: false }, { writer: new LocalFileWriter(join(blocker, 'x', 'y.bin')) })
    .then(() => undefined, (e: Error) => e)
  if (err) assert.match(err.message, /upload_file.*ENOTDIR/)
  else assert.unreachable('upload into a non-directory succeeded')
})

t('aborting the signal interrupts a long command; the promise resolves with the rc', async () => {
  const pidFile = join(ctx.scratch, 'sleep.pid')
  const ac = new AbortController()
  const l = collect()
  const done = ctx.conn.runCommand(
    { name: 'shell', builderName: B, args: { workdir: '.', command: ['sh', '-c', `echo $$ > ${pidFile}; exec sleep 30`] } },
    l,
    ac.signal,
  )
  const pid = Number(await waitForFile(pidFile))
  ac.abort()
  const r = await done
  assert.is.not(r.rc, 0)
  assert.is(r.failureReason, 'interrupted')
  assert.ok(l.h.includes('killed'), l.h)
  // The worker reports the rc only after the process is gone.
  assert.throws(() => process.kill(pid, 0))
})

t('ping answers; disconnect with shutdown makes the worker process exit', async () => {
  assert.ok(await ctx.conn.ping())
  await ctx.conn.disconnect('test is over', { shutdown: true })
  assert.is(await ctx.conn.closed, 'test is over')
  await ctx.worker.exited
  assert.not.ok(await ctx.conn.ping())
  const err = await run('listdir', { path: '.' }).catch((e: unknown) => e)
  assert.instance(err, WorkerLostError)
})

test.run()
