import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { nixHooks } from '../support/nix-hooks.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { localWorker, CANCELLED, FAILURE, SUCCESS, type MasterConfig } from '../../core/index.ts'
import { nix, type NixPluginOptions } from '../../plugins/nix/index.ts'
import type { NixJobRow } from '../../plugins/nix/jobs-store.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'nix-flow-'))
const dbs = testDatabases()

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' }).trim()

function config(repo: string, extra: Partial<NixPluginOptions> = {}): MasterConfig {
  return {
    workers: [localWorker({ name: 'local', maxBuilds: 8 })],
    plugins: [nix({ projects: [{ name: 'acme/flow', url: repo }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 2, ...extra })],
  }
}

async function jobsOf(h: MasterHarness, buildid: number): Promise<Map<string, NixJobRow>> {
  const r = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/builds/${buildid}/nixjobs`)
  const body = await r.json() as { nixjobs: NixJobRow[] }
  return new Map(body.nixjobs.map((j) => [j.attr.replace(/^x86_64-linux\./, ''), j]))
}

async function evalBuilds(h: MasterHarness): Promise<{ buildid: number; results: number | null }[]> {
  return h.master.data.db.k.selectFrom('builds').select(['buildid', 'results']).where('builderid', '=', h.builderId('acme/flow/nix-eval')).orderBy('buildid').execute()
}

async function force(h: MasterHarness): Promise<{ buildid: number; results: number }> {
  const { bsid } = await h.force('acme-flow-force')
  const results = await h.waitBuildset(bsid, 60_000)
  const all = await evalBuilds(h)
  return { buildid: all[all.length - 1]!.buildid, results }
}

async function stepOf(h: MasterHarness, buildid: number, name: string) {
  return h.master.data.db.k.selectFrom('steps').select(['results', 'state_string']).where('buildid', '=', buildid).where('name', '=', name).executeTakeFirst()
}

async function childLog(h: MasterHarness, buildid: number, stepName = 'nix_build', logName = 'stdio'): Promise<string> {
  const k = h.master.data.db.k
  const step = await k.selectFrom('steps').select('stepid').where('buildid', '=', buildid).where('name', '=', stepName).executeTakeFirstOrThrow()
  const log = await k.selectFrom('logs').select('logid').where('stepid', '=', step.stepid).where('name', '=', logName).executeTakeFirstOrThrow()
  const body = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/logs/${log.logid}/contents`)).json() as { logchunks: { content: string }[] }
  return body.logchunks.map((c) => c.content).join('')
}

const MERGED = 'mk { name = "merged"; system = "x86_64-linux"; outputs = [ "out" ]; deps = [ ]; script = if builtins.pathExists ./base.txt && builtins.pathExists ./head.txt then "echo both > $out" else "echo a side is missing; exit 1"; }'

eachDb(maybe, 'pull requests are evaluated on the head merged with the base; a conflict is a clear failure', async (start, db) => {
  const repo = join(tmp, `pr-${db.name}`)
  makeFlakeRepo(repo, { checks: { merged: { expr: MERGED } } })
  git(repo, 'checkout', '-q', '-b', 'feature')
  writeFileSync(join(repo, 'head.txt'), 'head\n'); git(repo, 'add', 'head.txt'); git(repo, 'commit', '-q', '-m', 'head')
  const head = git(repo, 'rev-parse', 'HEAD')
  git(repo, 'checkout', '-q', 'main')
  git(repo, 'checkout', '-q', '-b', 'clash')
  writeFileSync(join(repo, 'base.txt'), 'other\n'); git(repo, 'add', 'base.txt'); git(repo, 'commit', '-q', '-m', 'clash')
  const clash = git(repo, 'rev-parse', 'HEAD')
  git(repo, 'checkout', '-q', 'main')
  writeFileSync(join(repo, 'base.txt'), 'base\n'); git(repo, 'add', 'base.txt'); git(repo, 'commit', '-q', '-m', 'base')
  const base = git(repo, 'rev-parse', 'HEAD')

  const h = await start(config(repo))
  const evalBuilder = h.builderId('acme/flow/nix-eval')
  const pr = async (n: number, headSha: string): Promise<{ buildid: number; results: number }> => {
    const done = h.waitFor<{ buildid: number; builderid: number; results: number }>('builds/*/finished', (m) => m.builderid === evalBuilder, 60_000)
    await h.master.data.changes.addChange({
      author: 'dev', branch: `refs/pull/${n}/merge`, revision: headSha, repository: repo, project: 'acme/flow', category: 'pull',
      properties: { base_sha: base, head_sha: headSha, event: 'pull_request' },
    })
    const b = await done
    return { buildid: b.buildid, results: b.results }
  }
  const ok = await pr(1, head)
  assert.is(ok.results, SUCCESS)
  assert.is((await jobsOf(h, ok.buildid)).get('merged')?.state, 'success')
  const props = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/builds/${ok.buildid}/properties`)).json() as { properties: Record<string, [unknown, string]>[] }
  assert.is(props.properties[0]!.got_revision![0], head)
  assert.is(props.properties[0]!.base_sha![0], base)

  const bad = await pr(2, clash)
  assert.is(bad.results, FAILURE)
  const merge = await stepOf(h, bad.buildid, 'merge_base_into_head')
  assert.is(merge?.results, FAILURE)
  assert.match(merge!.state_string, /merging .* into .* failed/)
  assert.is((await jobsOf(h, bad.buildid)).size, 0)
  // no GC roots for pull requests
  assert.equal(execFileSync('ls', ['-A', join(h.basedir)], { encoding: 'utf8' }).split('\n').includes('gcroots'), false)
}, dbs)

eachDb(maybe, 'stopping the evaluation cancels its running and pending children', async (start, db) => {
  const repo = join(tmp, `cancel-${db.name}`)
  makeFlakeRepo(repo, { checks: { slow: { script: '/bin/sleep 30; echo > $out' }, after: { deps: ['slow'] }, quick: {} } })
  const h = await start(config(repo))
  const building = h.waitFor<NixJobRow>('builds/*/nixjobs/*/update', (j) => j.attr === 'x86_64-linux.slow' && j.state === 'building', 60_000)
  const { bsid } = await h.force('acme-flow-force')
  const job = await building
  await h.master.control.stopBuild(job.buildid, 'stopped by the test')
  assert.is(await h.waitBuildset(bsid, 30_000), CANCELLED)
  const jobs = await jobsOf(h, job.buildid)
  assert.is(jobs.get('slow')!.state, 'cancelled')
  assert.ok(!jobs.has('after') || jobs.get('after')!.state === 'cancelled')
  // quick may not even be evaluated when the stop comes
  assert.ok(!jobs.has('quick') || ['success', 'cancelled'].includes(jobs.get('quick')!.state))
  const open = await h.master.data.db.k.selectFrom('buildrequests').select('buildrequestid').where('complete', '=', 0).execute()
  assert.is(open.length, 0)
}, dbs)

eachDb(maybe, 'a newer evaluation of the same branch replaces a running one', async (start, db) => {
  const repo = join(tmp, `supersede-${db.name}`)
  makeFlakeRepo(repo, { checks: { slow: { script: '/bin/sleep 30; echo > $out' }, quick: {} } })
  const h = await start(config(repo))
  const building = h.waitFor<NixJobRow>('builds/*/nixjobs/*/update', (j) => j.attr === 'x86_64-linux.slow' && j.state === 'building', 60_000)
  const first = await h.force('acme-flow-force')
  const job = await building
  makeFlakeRepo(repo, { checks: { quick: {}, other: {} } })
  const second = await h.force('acme-flow-force')
  assert.is(await h.waitBuildset(first.bsid, 30_000), CANCELLED)
  assert.is(await h.waitBuildset(second.bsid, 60_000), SUCCESS)
  assert.is((await jobsOf(h, job.buildid)).get('slow')!.state, 'cancelled')
}, dbs)

eachDb(maybe, 'failed-build cache, status events and the failure report limit', async (start, db) => {
  const repo = join(tmp, `cache-${db.name}`)
  const salt = `cache-${process.pid}-${Date.now()}`
  const checks = { broken: { script: 'echo no; exit 1' }, broken2: { script: 'exit 2' }, needs: { deps: ['broken'] }, fine: {} }
  makeFlakeRepo(repo, { checks, salt })
  const h = await start(config(repo, { cacheFailedBuilds: true, failedBuildReportLimit: 1 }))
  const events: string[] = []
  const hooks = nixHooks(h)
  hooks.evalStarted.tap(() => { events.push('evalStarted') })
  hooks.evalFinished.tap(() => { events.push('evalFinished') })
  hooks.matrixFinished.tap(() => { events.push('matrixFinished') })
  const attrs: string[] = []
  hooks.attributeFinished.tap((ev) => { attrs.push(`${ev.attr}=${ev.state}`) })
  const first = await force(h)
  assert.is(first.results, FAILURE)
  const j1 = await jobsOf(h, first.buildid)
  assert.is(j1.get('broken')!.state, 'failed')
  assert.is(j1.get('needs')!.state, 'dependency-failed')
  assert.equal(attrs.sort(), ['x86_64-linux.broken2=failed', 'x86_64-linux.broken=failed', 'x86_64-linux.fine=success', 'x86_64-linux.needs=dependency-failed'])
  assert.equal(events, ['evalStarted', 'evalFinished', 'matrixFinished'])

  // a new commit with the same failing derivation: not built again
  makeFlakeRepo(repo, { checks: { ...checks, extra: {} }, salt })
  const second = await force(h)
  assert.is(second.results, FAILURE)
  const j2 = await jobsOf(h, second.buildid)
  assert.is(j2.get('broken')!.state, 'cached-failure')
  assert.match(j2.get('broken')!.first_failure_url!, new RegExp(`#/builders/\\d+/builds/${j1.get('broken')!.child_number}$`))
  assert.is(j2.get('needs')!.state, 'dependency-failed')
  assert.is(j2.get('fine')!.state, 'skipped')
  assert.is(j2.get('extra')!.state, 'success')

  // a rebuild of the evaluation forgets the cached failure and builds it again
  const [bsid] = (await h.master.control.rebuild(second.buildid, 'tester')) as unknown as [number]
  await h.waitBuildset(bsid, 60_000)
  const third = await evalBuilds(h)
  const j3 = await jobsOf(h, third[third.length - 1]!.buildid)
  assert.is(j3.get('broken')!.state, 'failed')
}, dbs)

eachDb(maybe, 'without nix on PATH the master starts and evaluations fail saying what to install', async (start, db) => {
  const repo = join(tmp, `nonix-${db.name}`)
  makeFlakeRepo(repo, { checks: { a: {} } })
  const path = process.env.PATH
  let h: MasterHarness
  process.env.PATH = join(tmp, 'empty-bin')
  try { h = await start(config(repo)) } finally { process.env.PATH = path }
  const r = await force(h)
  assert.is(r.results, FAILURE)
  const step = await stepOf(h, r.buildid, 'evaluate_flake')
  assert.is(step?.results, FAILURE)
  assert.match(step!.state_string, /'nix' not found.*apt-get install nix-bin/)
}, dbs)

eachDb(maybe, 'a push is picked up by the poller: the default branch and branch globs are built, other branches are not', async (start, db) => {
  const repo = join(tmp, `poll-${db.name}`)
  makeFlakeRepo(repo, { checks: { a: {} } })
  const h = await start({
    workers: [localWorker({ name: 'local', maxBuilds: 8 })],
    plugins: [nix({ projects: [{ name: 'acme/flow', url: repo, branches: ['release-*'], pollInterval: 1 }], workers: ['local'] })],
  })
  const evalBuilder = h.builderId('acme/flow/nix-eval')
  const branchesBuilt = async (): Promise<string[]> => {
    const rows = await h.master.data.db.k.selectFrom('builds').innerJoin('buildrequests', 'buildrequests.buildrequestid', 'builds.buildrequestid')
      .innerJoin('buildset_sourcestamps', 'buildset_sourcestamps.buildsetid', 'buildrequests.buildsetid')
      .innerJoin('sourcestamps', 'sourcestamps.ssid', 'buildset_sourcestamps.sourcestampid')
      .select(['sourcestamps.branch', 'builds.complete_at']).where('builds.builderid', '=', evalBuilder).execute()
    return rows.filter((r) => r.complete_at != null).map((r) => r.branch ?? '').sort()
  }
  await h.until(async () => (await branchesBuilt()).includes('main'), 'the first poll builds main', 60_000)
  git(repo, 'checkout', '-q', '-b', 'other')
  makeFlakeRepo(repo, { checks: { a: {}, b: {} } })
  git(repo, 'checkout', '-q', '-b', 'release-1')
  makeFlakeRepo(repo, { checks: { a: {}, c: {} } })
  await h.until(async () => (await branchesBuilt()).includes('release-1'), 'release-1 built', 60_000)
  assert.equal(await branchesBuilt(), ['main', 'release-1'])
  // no GC roots for a branch other than the default one
  const rootsDir = join(h.basedir, 'gcroots', 'acme-flow')
  assert.equal(execFileSync('ls', [rootsDir], { encoding: 'utf8' }).split('\n').filter(Boolean), ['x86_64-linux.a'])
}, dbs)

eachDb(maybe, 'a flake that does not evaluate at all fails the evaluation with nix\'s error and triggers nothing', async (start, db) => {
  const repo = join(tmp, `broken-${db.name}`)
  makeFlakeRepo(repo, { checks: { a: {} } })
  writeFileSync(join(repo, 'flake.nix'), '{ outputs = { self }: { checks = builtins.throw "the whole flake is broken"; }; }\n')
  git(repo, 'commit', '-q', '-am', 'break it')
  const h = await start(config(repo))
  const r = await force(h)
  assert.is(r.results, FAILURE)
  const step = await stepOf(h, r.buildid, 'evaluate_flake')
  assert.is(step?.results, FAILURE)
  assert.match(step!.state_string, /evaluating checks failed/)
  assert.match(await childLog(h, r.buildid, 'evaluate_flake', 'nix_error'), /the whole flake is broken/)
  assert.is((await jobsOf(h, r.buildid)).size, 0)
}, dbs)

for (const share of [true, false]) {
  eachDb(maybe, `child logs carry the builder's output (${share ? 'shared nix process' : 'one nix build -L per child'})`, async (start, db) => {
    const repo = join(tmp, `logs-${share}-${db.name}`)
    makeFlakeRepo(repo, { checks: { good: { script: 'echo building good now; echo > $out' }, bad: { script: 'echo bad says goodbye; exit 4' } } })
    const h = await start(config(repo, { shareNixProcesses: share }))
    const r = await force(h)
    assert.is(r.results, FAILURE)
    const jobs = await jobsOf(h, r.buildid)
    assert.is(jobs.get('good')!.state, 'success')
    assert.is(jobs.get('bad')!.state, 'failed')
    const good = await childLog(h, jobs.get('good')!.child_buildid!)
    const bad = await childLog(h, jobs.get('bad')!.child_buildid!)
    assert.match(good, /building good now/)
    assert.not.match(good, /bad says goodbye/)
    assert.match(bad, /bad says goodbye/)
    assert.match(bad, /failed with exit code 4/)
    if (!share) assert.match(good, /program finished with exit code 0/)
  }, dbs)
}

eachDb(maybe, 'branches rules: matching branches are built; GC roots and outputsPath entries as each rule says, apart from the default branch', async (start, db) => {
  const repo = join(tmp, `rules-${db.name}`)
  makeFlakeRepo(repo, { checks: { a: {} } })
  const revs: Record<string, string> = { main: git(repo, 'rev-parse', 'HEAD') }
  for (const b of ['release-1', 'wip-1', 'feature']) {
    git(repo, 'checkout', '-q', '-b', b, 'main')
    makeFlakeRepo(repo, { checks: { a: {} } })
    revs[b] = git(repo, 'rev-parse', 'HEAD')
  }
  git(repo, 'checkout', '-q', 'main')
  const outputs = join(tmp, `rules-outputs-${db.name}`)
  const h = await start(config(repo, { outputsPath: outputs, branches: { release: { matchGlob: 'release-*', updateOutputs: true }, wip: { matchGlob: 'wip-*', registerGCRoots: false } } }))
  const push = async (branch: string) => {
    const set = h.waitFor<{ bsid: number; scheduler: string; sourcestamps: { branch: string }[] }>('buildsets/*/new', (m) => m.scheduler === 'acme-flow-primary' && m.sourcestamps[0]?.branch === branch, 60_000)
    await h.master.data.changes.addChange({ author: 'a', branch, revision: revs[branch]!, repository: repo, project: 'acme/flow' })
    return h.waitBuildset((await set).bsid, 120_000)
  }
  const roots = join(h.basedir, 'gcroots')
  const outFile = (branch: string) => join(outputs, 'acme', 'flow', branch, 'x86_64-linux.a')
  assert.is(await push('main'), SUCCESS)
  const mainOut = readlinkSync(join(roots, 'acme-flow', 'x86_64-linux.a'))
  assert.is(readFileSync(outFile('main'), 'utf8').trim(), mainOut)

  assert.is(await push('release-1'), SUCCESS)
  const releaseOut = readlinkSync(join(roots, 'acme-flow@release-1', 'x86_64-linux.a'))
  assert.is.not(releaseOut, mainOut)
  assert.is(readFileSync(outFile('release-1'), 'utf8').trim(), releaseOut, 'updateOutputs: the out path is written')
  assert.is(readlinkSync(join(roots, 'acme-flow', 'x86_64-linux.a')), mainOut, "the default branch's root stays")

  // A branch no rule names is not built (its change is filtered out before the wip push is).
  await h.master.data.changes.addChange({ author: 'a', branch: 'feature', revision: revs.feature!, repository: repo, project: 'acme/flow' })
  assert.is(await push('wip-1'), SUCCESS)
  assert.not.ok(existsSync(join(roots, 'acme-flow@wip-1')), 'registerGCRoots false: no roots')
  assert.not.ok(existsSync(join(outputs, 'acme', 'flow', 'wip-1')), 'updateOutputs defaults to false')
  const built = await h.master.data.db.k.selectFrom('buildsets').select('bsid').where('scheduler', '=', 'acme-flow-primary').execute()
  assert.is(built.length, 3, 'main, release-1 and wip-1; not feature')
}, [dbs[0]!])

eachDb(maybe, 'buildTimeout: a child building longer is killed and fails saying it timed out (one nix build per child); a quick one is built', async (start, db) => {
  const repo = join(tmp, `timeout-${db.name}`)
  makeFlakeRepo(repo, { checks: { quick: {}, slow: { script: '/bin/sleep 120; echo > $out' } } })
  const h = await start(config(repo, { shareNixProcesses: false, buildTimeout: 2 }))
  const r = await force(h)
  assert.is(r.results, FAILURE)
  const jobs = await jobsOf(h, r.buildid)
  assert.is(jobs.get('quick')!.state, 'success')
  assert.is(jobs.get('slow')!.state, 'failed')
  const step = await stepOf(h, jobs.get('slow')!.child_buildid!, 'nix_build')
  assert.is(step!.results, FAILURE)
  assert.match(step!.state_string, /slow timed out after 2 s \(buildTimeout\)/)
}, [dbs[0]!])

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
