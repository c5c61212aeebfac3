import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { createBuildBatcher } from '../../plugins/nix/build-batcher.ts'
import { createFairSemaphore } from '../../plugins/nix/fair-semaphore.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'batcher-'))
// Builders run as nixbld users: they look for the release file in here.
chmodSync(tmp, 0o755)

function instantiate(): Record<string, { drv: string; out: string }> {
  const salt = `${process.pid}-${Date.now()}`
  writeFileSync(join(tmp, 'd.nix'), `let mk = name: script: deps: derivation { inherit name deps; salt = "${salt}"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" script ]; };
    a = mk "a" "echo hello from a; echo a > $out" [ ];
    b = mk "b" "echo b is about to fail; exit 3" [ ];
    c = mk "c" "echo c > $out" [ b ];
    d = mk "d" "/bin/sleep 60; echo d > $out" [ ];
    lib = mk "lib" "echo lib breaks here; exit 4" [ ];
    e = mk "e" "echo e > $out" [ lib ];
    slow = mk "slow" "while [ ! -e ${join(tmp, 'release')} ]; do /bin/sleep 0.05; done; echo slow > $out" [ ];
  in { inherit a b c d e slow; }`)
  const out: Record<string, { drv: string; out: string }> = {}
  for (const n of ['a', 'b', 'c', 'd', 'e', 'slow']) {
    const drv = execFileSync('nix-instantiate', [join(tmp, 'd.nix'), '-A', n], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const o = execFileSync('nix-store', ['-q', '--outputs', drv], { encoding: 'utf8' }).trim()
    out[n] = { drv, out: o }
  }
  return out
}

maybe('one nix process builds several derivations; logs and results are split per derivation', async () => {
  const d = instantiate()
  const batcher = createBuildBatcher({ maxSilentTime: 60, timeout: 60 })
  const logs: Record<string, string> = { a: '', b: '', c: '' }
  const build = (n: 'a' | 'b' | 'c') => batcher.build({ installable: d[n]!.drv, drvPath: d[n]!.drv, outPaths: [d[n]!.out], onLog: (t) => { logs[n] += t } })
  const [a, b, c] = await Promise.all([build('a'), build('b'), build('c')])
  assert.ok(a.ok)
  assert.not.ok(b.ok)
  assert.not.ok(c.ok)
  assert.match(logs.a!, /hello from a/)
  assert.not.match(logs.a!, /about to fail/)
  assert.match(logs.b!, /b is about to fail/)
  assert.match(logs.b!, /failed with exit code 3/)
  assert.match(logs.c!, /cannot be built: it depends on .*-b\.drv, which failed:\n[^]*b is about to fail/)
})

maybe('a quick derivation is answered while a slow one of the same process builds; a stopped request stops waiting and an unwatched process is killed', async () => {
  const d = instantiate()
  const batcher = createBuildBatcher({ maxSilentTime: 120, timeout: 120 })
  const ctl = new AbortController()
  const p = batcher.build({ installable: d.d!.drv, drvPath: d.d!.drv, outPaths: [d.d!.out], onLog: () => {}, signal: ctl.signal })
  const quick = await batcher.build({ installable: d.a!.drv, drvPath: d.a!.drv, outPaths: [d.a!.out], onLog: () => {} })
  assert.equal(quick, { ok: true, rc: 0 }, 'answered before the shared process ended')
  ctl.abort()
  assert.equal(await p, { ok: false, rc: null })
  await batcher.drain()
  const queued = new AbortController()
  queued.abort()
  assert.equal(await batcher.build({ installable: d.a!.drv, drvPath: d.a!.drv, outPaths: [d.a!.out], onLog: () => {}, signal: queued.signal }), { ok: false, rc: null })
})

maybe('a failure is answered the moment nix reports it, with its dependents, while a slow derivation of the same process still builds', async () => {
  rmSync(join(tmp, 'release'), { force: true })
  const d = instantiate()
  const batcher = createBuildBatcher({ maxSilentTime: 120, timeout: 120 })
  const logs: Record<string, string> = { b: '', e: '', slow: '' }
  let slowDone = false
  const build = (n: 'b' | 'e' | 'slow') => batcher.build({ installable: d[n]!.drv, drvPath: d[n]!.drv, outPaths: [d[n]!.out], onLog: (t) => { logs[n] += t } })
  // Requested together: one nix process builds all three.
  const slow = build('slow').then((r) => { slowDone = true; return r })
  const [b, e] = await Promise.all([build('b'), build('e')])
  assert.not.ok(slowDone, 'the slow derivation still builds')
  assert.is(b.ok, false)
  assert.match(b.failure!, /builder for '.*-b\.drv' failed with exit code 3/)
  assert.match(logs.b!, /b is about to fail/)
  // e's own dependency (not requested) failed: e is answered with the failing lines of lib.
  assert.is(e.ok, false)
  assert.match(e.failure!, /depends on .*-lib\.drv, which failed/)
  assert.match(logs.e!, /lib breaks here/)
  assert.match(logs.e!, /lib\.drv' failed with exit code 4/)
  writeFileSync(join(tmp, 'release'), '')
  assert.equal(await slow, { ok: true, rc: 0 })
  unlinkSync(join(tmp, 'release'))
})

test('the evaluation semaphore serves projects in turn and limits concurrency', async () => {
  const sem = createFairSemaphore(1)
  const order: string[] = []
  const first = await sem.acquire('a')
  // each waiter frees its slot as soon as it gets it
  const waits = ['a2', 'a3', 'b1'].map((name) => sem.acquire(name[0]!).then((release) => { order.push(name); release() }))
  const ctl = new AbortController()
  const cancelled = sem.acquire('c', ctl.signal)
  ctl.abort(new Error('stop'))
  await cancelled.then(() => assert.unreachable(), (e) => assert.is((e as Error).message, 'stop'))
  assert.is(sem.active, 1)
  first()
  await Promise.all(waits)
  assert.equal(order, ['a2', 'b1', 'a3'])
  assert.is(sem.active, 0)
})

test.after(() => rmSync(tmp, { recursive: true, force: true }))
maybe('buildTimeout: a shared process running longer is killed; what it had not built fails as timed out, what it built stays built', async () => {
  const d = instantiate()
  const batcher = createBuildBatcher({ maxSilentTime: 120, timeout: 120, buildTimeout: 2 })
  const logs = { a: '', d: '' }
  const [a, slow] = await Promise.all([
    batcher.build({ installable: d.a!.drv, drvPath: d.a!.drv, outPaths: [d.a!.out], onLog: (t) => { logs.a += t } }),
    batcher.build({ installable: d.d!.drv, drvPath: d.d!.drv, outPaths: [d.d!.out], onLog: (t) => { logs.d += t } }),
  ])
  assert.ok(a.ok, logs.a)
  assert.is(a.timedOutAfter, undefined)
  assert.is(slow.ok, false)
  assert.is(slow.timedOutAfter, 2)
  assert.match(logs.d, /timed out after 2 s \(buildTimeout\)/)
})

test.run()
