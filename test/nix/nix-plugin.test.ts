import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { nixHooks, nextEvent } from '../support/nix-hooks.ts'
import type { NixEvalFinished } from '../../plugins/nix/index.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { localWorker, FAILURE, SUCCESS, SKIPPED, WARNINGS, type MasterConfig } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import type { NixJobRow } from '../../plugins/nix/jobs-store.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'nix-plugin-'))

// An attribute whose evaluation takes a while, so children of quicker attributes start first.
const SLOW = 'builtins.seq (builtins.length (builtins.sort builtins.lessThan (builtins.genList (x: 1000000 - x) 400000))) (mk { name = "slow"; system = "x86_64-linux"; script = "echo slow > $out"; outputs = [ "out" ]; deps = [ ]; })'

function config(repo: string, extra: Record<string, unknown> = {}): MasterConfig {
  return {
    workers: [localWorker({ name: 'local', maxBuilds: 6 })],
    plugins: [nix({ projects: [{ name: 'acme/demo', url: repo, defaultBranch: 'main' }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 2, ...extra })],
  }
}

async function rest<T>(h: MasterHarness, path: string): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/${path}`)
  assert.is(r.status, 200, `${path}: ${r.status}`)
  return r.json() as Promise<T>
}

async function evalBuildOf(h: MasterHarness, bsid: number): Promise<number> {
  const row = await h.master.data.db.k.selectFrom('builds').innerJoin('buildrequests', 'buildrequests.buildrequestid', 'builds.buildrequestid')
    .select(['builds.buildid', 'builds.results']).where('buildrequests.buildsetid', '=', bsid).orderBy('builds.buildid', 'desc').executeTakeFirstOrThrow()
  return row.buildid
}

async function jobsOf(h: MasterHarness, buildid: number): Promise<Map<string, NixJobRow>> {
  const body = await rest<{ nixjobs: NixJobRow[] }>(h, `builds/${buildid}/nixjobs`)
  return new Map(body.nixjobs.map((j) => [j.attr, j]))
}

async function properties(h: MasterHarness, buildid: number): Promise<Record<string, unknown>> {
  const body = await rest<{ properties: Record<string, [unknown, string]>[] }>(h, `builds/${buildid}/properties`)
  return Object.fromEntries(Object.entries(body.properties[0] ?? {}).map(([k, v]) => [k, v[0]]))
}

async function runEval(h: MasterHarness): Promise<{ buildid: number; results: number; finished: NixEvalFinished }> {
  const finished = nextEvent(nixHooks(h).evalFinished)
  const { bsid } = await h.force('acme-demo-force')
  const results = await h.waitBuildset(bsid, 120_000)
  return { buildid: await evalBuildOf(h, bsid), results, finished: await finished }
}

eachDb(maybe, 'a push builds one child per attribute with the right results, GC roots, reuse and removal of stale roots', async (start, db) => {
  const repo = join(tmp, `repo1-${db.name}`)
  makeFlakeRepo(repo, {
    checks: {
      ok: {}, dep: { deps: ['ok'] }, broken: { script: 'echo about to fail; exit 3' }, needsBroken: { deps: ['broken'] },
      bad: { throws: 'this check is broken' }, arm: { system: 'aarch64-linux' }, slow: { expr: SLOW }, multi: { outputs: ['out', 'dev', 'doc'] },
    },
  })
  const outputs = join(tmp, `outputs-${db.name}`)
  const h = await start(config(repo, { outputsPath: outputs }))
  const childStarts: number[] = []
  let evalEnd = 0
  const buildBuilder = h.builderId('acme/demo/nix-build')
  h.master.bus.subscribe('builds/*/new', (_k, m) => { if ((m as { builderid: number }).builderid === buildBuilder) childStarts.push(performance.now()) })
  nixHooks(h).evalFinished.tap(() => { evalEnd ||= performance.now() })

  const first = await runEval(h)
  assert.is(first.results, FAILURE)
  assert.ok(childStarts.length > 0 && childStarts[0]! < evalEnd, 'the first child build started before the evaluation ended')
  const jobs = await jobsOf(h, first.buildid)
  const st = (a: string) => jobs.get(`x86_64-linux.${a}`)?.state
  assert.equal([...jobs.keys()].sort(), ['aarch64-linux.arm', ...['bad', 'broken', 'dep', 'multi', 'needsBroken', 'ok', 'slow'].map((a) => `x86_64-linux.${a}`)])
  assert.is(st('ok'), 'success')
  assert.is(st('dep'), 'success')
  assert.is(st('slow'), 'success')
  assert.is(st('broken'), 'failed')
  assert.is(st('needsBroken'), 'dependency-failed')
  assert.match(jobs.get('x86_64-linux.needsBroken')!.reason!, /x86_64-linux\.broken/)
  assert.is(st('bad'), 'eval-failed')
  assert.match(jobs.get('x86_64-linux.bad')!.reason!, /this check is broken/)
  assert.is(jobs.get('aarch64-linux.arm')!.state, 'unsupported-system')
  assert.is(jobs.get('aarch64-linux.arm')!.child_buildid, null)
  const ok = jobs.get('x86_64-linux.ok')!
  assert.is(ok.results, SUCCESS)
  assert.ok(ok.child_buildid && ok.child_builderid === buildBuilder && ok.buildrequestid && ok.queued_at && ok.started_at && ok.complete_at)
  assert.ok(ok.started_at! <= ok.complete_at!)
  // Times in seconds, as the child build's own
  const okBuild = (await rest<{ builds: { started_at: number; complete_at: number }[] }>(h, `builds/${ok.child_buildid}`)).builds[0]!
  assert.ok(Math.abs(ok.started_at! - okBuild.started_at) < 5, `${ok.started_at} is in seconds like ${okBuild.started_at}`)
  assert.ok(ok.complete_at! >= okBuild.started_at && ok.complete_at! <= okBuild.complete_at + 5)
  assert.is(jobs.get('x86_64-linux.broken')!.results, FAILURE)
  assert.ok(jobs.get('x86_64-linux.bad')!.child_buildid, 'a failed-eval child exists')

  const props = await properties(h, ok.child_buildid!)
  assert.is(props.attr, 'x86_64-linux.ok')
  assert.is(props.virtual_builder_name, 'git+file:acme/demo#checks.x86_64-linux.ok')
  assert.is(props.status_name, 'nix-build git+file:acme/demo#checks.x86_64-linux.ok')
  assert.is(props.drv_path, ok.drv_path)
  assert.is(props.out_path, ok.out_path)
  assert.is(props.project, 'acme/demo')
  const evalProps = await properties(h, first.buildid)
  assert.is(evalProps.nix_attribute, 'checks')
  assert.is(evalProps.project, 'acme/demo')

  // GC roots of the default branch point at the outputs
  const roots = join(h.basedir, 'gcroots', 'acme-demo')
  assert.is(readlinkSync(join(roots, 'x86_64-linux.ok')), ok.out_path)
  assert.ok(existsSync(join(roots, 'x86_64-linux.dep')))
  assert.not.ok(existsSync(join(roots, 'x86_64-linux.broken')))
  assert.is(readFileSync(join(outputs, 'acme', 'demo', 'main', 'x86_64-linux.ok'), 'utf8'), ok.out_path)
  // Every output of a multi-output attribute has its root and its outputsPath entry
  const multi = jobs.get('x86_64-linux.multi')!
  assert.is(multi.state, 'success')
  const multiOuts = (await properties(h, multi.child_buildid!)).outputs as Record<string, string>
  assert.equal(Object.keys(multiOuts).sort(), ['dev', 'doc', 'out'])
  assert.is(readlinkSync(join(roots, 'x86_64-linux.multi')), multiOuts.out)
  assert.is(readlinkSync(join(roots, 'x86_64-linux.multi!dev')), multiOuts.dev)
  assert.is(readlinkSync(join(roots, 'x86_64-linux.multi!doc')), multiOuts.doc)
  assert.is(readFileSync(join(outputs, 'acme', 'demo', 'main', 'x86_64-linux.multi!dev'), 'utf8'), multiOuts.dev)
  assert.is(readFileSync(join(outputs, 'acme', 'demo', 'main', 'x86_64-linux.multi'), 'utf8'), multiOuts.out)

  // Same tree again: the stored jobs are reused, built outputs are not built again
  const again = await runEval(h)
  assert.is(again.finished.reused, true)
  assert.is(again.results, FAILURE)
  const jobs2 = await jobsOf(h, again.buildid)
  assert.is(jobs2.get('x86_64-linux.ok')!.state, 'skipped')
  assert.is(jobs2.get('x86_64-linux.ok')!.reason, 'already built')
  assert.is(jobs2.get('x86_64-linux.ok')!.results, SKIPPED)
  assert.is(jobs2.get('x86_64-linux.multi')!.state, 'skipped', 'all outputs of the multi-output attribute are kept')
  assert.is(jobs2.get('x86_64-linux.broken')!.state, 'failed')
  assert.is(jobs2.get('x86_64-linux.bad')!.state, 'eval-failed')

  // An attribute that disappears loses its root after the next default-branch evaluation
  makeFlakeRepo(repo, { checks: { dep: { deps: ['ok'] }, ok: {} }, salt: `third-${Date.now()}` })
  const third = await runEval(h)
  assert.is(third.results, SUCCESS)
  assert.ok(existsSync(join(roots, 'x86_64-linux.ok')))
  assert.not.ok(existsSync(join(roots, 'x86_64-linux.slow')), 'root of the removed attribute is gone')
  assert.not.ok(existsSync(join(roots, 'x86_64-linux.multi!dev')), 'so are the roots of every output of a removed attribute')
}, testDatabases())

eachDb(maybe, 'buildbot-nix.toml: flake_dir and a custom attribute; warnings make the evaluation WARNINGS', async (start, db) => {
  const repo = join(tmp, `repo2-${db.name}`)
  makeFlakeRepo(repo, {
    subdir: 'nix', outputs: { 'hydraJobs.linux.hello': {}, 'hydraJobs.linux.world': { deps: ['hydraJobs.linux.hello'] } },
    files: { 'buildbot-nix.toml': 'flake_dir = "nix"\nattribute = "hydraJobs"\nunknown_key = 1\n' },
  })
  const h = await start(config(repo))
  const r = await runEval(h)
  assert.is(r.results, WARNINGS)
  const jobs = await jobsOf(h, r.buildid)
  assert.equal([...jobs.keys()].sort(), ['linux.hello', 'linux.world'])
  assert.is(jobs.get('linux.world')!.state, 'success')
  assert.is((await properties(h, r.buildid)).nix_attribute, 'hydraJobs')
  const child = await properties(h, jobs.get('linux.hello')!.child_buildid!)
  assert.is(child.virtual_builder_name, 'git+file:acme/demo#hydraJobs.linux.hello')
}, testDatabases())

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
