import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../../test/support/tools.ts'
import { EMPTY_FLAKE_LOCK, makeFlakeRepo } from '../../../test/fixtures/nix/make-flake.ts'
import { createBuiltinEvaluator } from './builtin-evaluator.ts'
import { EvalError, type EvalRequest, type NixJob } from './nix-evaluator.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const tmp = mkdtempSync(join(tmpdir(), 'builtin-eval-'))
const ev = createBuiltinEvaluator({ nixVersion: { version: [2, 8, 0], hasPrintOutPaths: false, hasCaretStar: false, hasReferenceLockFile: false } })

const req = (flakeDir: string, extra: Partial<EvalRequest> = {}): EvalRequest =>
  ({ flakeDir, attribute: 'checks', workers: 2, maxMemoryMiB: 1024, timeoutSec: 60, ...extra })

async function collect(r: EvalRequest): Promise<Map<string, NixJob>> {
  const jobs = new Map<string, NixJob>()
  for await (const j of ev.evaluate(r)) {
    assert.not.ok(jobs.has(j.attr), `duplicate ${j.attr}`)
    jobs.set(j.attr, j)
  }
  return jobs
}

async function failure(r: EvalRequest): Promise<EvalError> {
  try { for await (const _ of ev.evaluate(r)) { /* drain */ } } catch (e) { assert.instance(e, EvalError); return e as EvalError }
  throw new Error('evaluation did not fail')
}

const maybe = hasNix ? test : test.skip

maybe('checks: success, throw, abort, missing attribute, dependency, other system', async () => {
  const dir = join(tmp, 'checks')
  makeFlakeRepo(dir, {
    checks: {
      ok: {}, dep: { deps: ['ok'] }, bad: { throws: 'this check is broken' }, ab: { aborts: 'stop here' },
      miss: { missingAttr: true }, two: { outputs: ['out', 'dev'] }, arm: { system: 'aarch64-linux' },
      cross: { system: 'x86_64-linux', script: 'echo > $out' },
    },
  })
  const jobs = await collect(req(dir))
  assert.equal([...jobs.keys()].sort(), ['aarch64-linux.arm', 'x86_64-linux.ab', 'x86_64-linux.bad', 'x86_64-linux.cross', 'x86_64-linux.dep', 'x86_64-linux.miss', 'x86_64-linux.ok', 'x86_64-linux.two'])
  const ok = jobs.get('x86_64-linux.ok')!
  assert.equal(ok.attrPath, ['x86_64-linux', 'ok'])
  assert.is(ok.system, 'x86_64-linux')
  assert.is(ok.name, 'ok')
  assert.match(ok.drvPath!, /^\/nix\/store\/[a-z0-9]{32}-ok\.drv$/)
  assert.is(ok.cacheStatus, 'notBuilt')
  assert.equal(ok.neededBuilds, [])
  const dep = jobs.get('x86_64-linux.dep')!
  assert.equal(dep.neededBuilds, [ok.drvPath])
  assert.equal(Object.keys(dep.inputDrvs!), [ok.drvPath])
  assert.equal(Object.keys(jobs.get('x86_64-linux.two')!.outputs!).sort(), ['dev', 'out'])
  assert.match(jobs.get('x86_64-linux.bad')!.error!, /this check is broken/)
  assert.match(jobs.get('x86_64-linux.ab')!.error!, /stop here/)
  assert.match(jobs.get('x86_64-linux.miss')!.error!, /attribute 'doesNotExist' missing/)
  assert.is(jobs.get('aarch64-linux.arm')!.system, 'aarch64-linux')
  // building ok makes it local and removes it from dep's needed builds
  execFileSync('nix-store', ['--realise', ok.drvPath!], { stdio: 'ignore' })
  const again = await collect(req(dir, { systems: ['x86_64-linux'] }))
  assert.is(again.get('x86_64-linux.ok')!.cacheStatus, 'local')
  assert.equal(again.get('x86_64-linux.dep')!.neededBuilds, [])
  assert.not.ok(again.has('aarch64-linux.arm'))
})

maybe('nested hydraJobs and a custom attribute path', async () => {
  const dir = join(tmp, 'hydra')
  makeFlakeRepo(dir, {
    outputs: {
      'hydraJobs.linux.hello': {}, 'hydraJobs.linux.nested.deep': { deps: ['hydraJobs.linux.hello'] },
      'hydraJobs.broken': { throws: 'nope' }, 'hydraJobs.aborting.x': { aborts: 'deep abort' },
      'ci.buildbot.a': {}, 'ci.buildbot.b.c': {},
    },
  })
  const jobs = await collect(req(dir, { attribute: 'hydraJobs' }))
  assert.equal([...jobs.keys()].sort(), ['aborting', 'broken', 'linux.hello', 'linux.nested.deep'])
  assert.equal(jobs.get('linux.nested.deep')!.neededBuilds, [jobs.get('linux.hello')!.drvPath])
  assert.match(jobs.get('broken')!.error!, /nope/)
  assert.match(jobs.get('aborting')!.error!, /deep abort/)
  const ci = await collect(req(dir, { attribute: 'ci.buildbot' }))
  assert.equal([...ci.keys()].sort(), ['a', 'b.c'])
})

maybe('flake in a subdirectory with another lock file; warnings are reported once', async () => {
  const dir = join(tmp, 'sub')
  makeFlakeRepo(dir, { subdir: 'nix', checks: { ok: {} }, files: { 'nix/ci/flake.lock': EMPTY_FLAKE_LOCK.replace('"version": 7', '"version":   7') } })
  appendFileSync(join(dir, 'nix', 'flake.nix'), '\n# dirty\n')
  const warnings: string[] = []
  const jobs = await collect(req(join(dir, 'nix'), { lockFile: 'ci/flake.lock', workers: 3, onWarning: (w) => warnings.push(w) }))
  assert.ok(jobs.get('x86_64-linux.ok')!.drvPath)
  assert.is(readFileSync(join(dir, 'nix', 'flake.lock'), 'utf8'), readFileSync(join(dir, 'nix', 'ci', 'flake.lock'), 'utf8'))
  assert.is(warnings.filter((w) => /Git tree .* is dirty/.test(w)).length, 1)
  // a broken lock file is read, so the evaluation fails as a whole
  makeFlakeRepo(dir, { subdir: 'nix', checks: { ok: {} }, files: { 'nix/ci/bad.lock': '{"nodes": ' } })
  const err = await failure(req(join(dir, 'nix'), { lockFile: 'ci/bad.lock' }))
  assert.is(err.kind, 'failed')
  assert.match(err.message, /lock|JSON|parse/i)
})

maybe('an unreadable flake fails the whole evaluation with the nix error', async () => {
  const dir = join(tmp, 'broken')
  makeFlakeRepo(dir, { checks: { ok: {} } })
  const err = await failure(req(dir, { attribute: 'nonexistent' }))
  assert.match(err.message, /does not provide attribute|nonexistent/)
})

maybe('time and memory limits fail the evaluation', async () => {
  const dir = join(tmp, 'limits')
  makeFlakeRepo(dir, {
    checks: { slow: { expr: 'builtins.foldl\' (acc: i: acc + builtins.foldl\' (a: b: a + b) 0 (builtins.genList (x: x) 100000)) 0 (builtins.genList (x: x) 100000)' } },
    outputs: { 'big.x': { expr: 'builtins.length (builtins.genList (x: toString x) 20000000)' } },
  })
  const t = await failure(req(dir, { timeoutSec: 1, maxMemoryMiB: 2048 }))
  assert.is(t.kind, 'timeout')
  assert.match(t.message, /timed out after 1 s/)
  const m = await failure(req(dir, { attribute: 'big', maxMemoryMiB: 64 }))
  assert.is(m.kind, 'memory')
  assert.is(m.message, 'evaluation ran out of memory at 64 MiB: raise evalMaxMemorySize')
})

maybe('jobs stream: the first job arrives while later shards are still to be evaluated', async () => {
  const dir = join(tmp, 'stream')
  const checks: Record<string, object> = {}
  for (let i = 0; i < 12; i++) checks[`c${i}`] = {}
  makeFlakeRepo(dir, { checks })
  const stream = createBuiltinEvaluator({ maxShardSize: 1 })
  const ctl = new AbortController()
  let seen = 0
  let err: unknown
  try {
    for await (const _ of stream.evaluate(req(dir, { workers: 1, signal: ctl.signal }))) { seen++; ctl.abort() }
  } catch (e) { err = e }
  assert.ok(seen >= 1 && seen < 12, `saw ${seen}`)
  assert.is((err as EvalError).kind, 'aborted')
})

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
