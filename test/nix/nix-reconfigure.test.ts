import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { eachDb } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { localWorker, SUCCESS, type MasterConfig } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'nix-reconf-'))

const config = (repo: string): MasterConfig => ({
  workers: [localWorker({ name: 'local', maxBuilds: 8 })],
  plugins: [nix({ projects: [{ name: 'acme/re', url: repo }], workers: ['local'], buildSystems: ['x86_64-linux'] })],
})

eachDb(maybe, 'evaluations still work after a reconfigure with the same and with changed plugin options', async (start, db) => {
  const repo = join(tmp, `re-${db.name}`)
  makeFlakeRepo(repo, { checks: { one: { script: 'echo one > $out' } } })
  const h = await start(config(repo))
  const evaluate = async () => h.waitBuildset((await h.force('acme-re-force')).bsid, 60_000)
  assert.is(await evaluate(), SUCCESS)
  await h.master.reconfigure(await h.resolve(config(repo)))
  assert.is(await evaluate(), SUCCESS, 'same options')
  const changed = config(repo)
  changed.plugins = [nix({ projects: [{ name: 'acme/re', url: repo }], workers: ['local'], buildSystems: ['x86_64-linux'], maxConcurrentEvals: 1 })]
  await h.master.reconfigure(await h.resolve(changed))
  assert.is(await evaluate(), SUCCESS, 'changed options')
}, testDatabases())

eachDb(maybe, "a project's changed branches apply on reconfigure: its push scheduler restarts, the others keep running", async (start, db) => {
  const repo = join(tmp, `br-${db.name}`)
  makeFlakeRepo(repo, { checks: { one: { script: 'echo one > $out' } } })
  const withBranches = (branches: string[]): MasterConfig => ({
    workers: [localWorker({ name: 'local', maxBuilds: 8 })],
    plugins: [nix({ projects: [{ name: 'acme/br', url: repo, branches }], workers: ['local'], buildSystems: ['x86_64-linux'] })],
  })
  const h = await start(withBranches([]))
  const pushed = () => h.waitFor<{ bsid: number; scheduler: string; reason: string }>('buildsets/*/new', (m) => m.scheduler === 'acme-br-primary', 60_000)
  const push = (branch: string, revision: string) => h.master.data.changes.addChange({ author: 'a', branch, revision, repository: repo, project: 'acme/br' })
  // Before: a release branch is not built; the default branch is.
  const first = pushed()
  await push('release-1', 'r1')
  await push('main', 'm1')
  const s1 = await first
  const ss1 = (await h.master.data.buildsets.getBuildset(s1.bsid))!.sourcestamps[0]!
  assert.is(ss1.branch, 'main')
  const primary = h.master.schedulers.get('acme-br-primary')!.runtime
  const triggerable = h.master.schedulers.get('acme-br-nix-build')!.runtime
  await h.master.reconfigure(await h.resolve(withBranches(['release-*'])))
  assert.is.not(h.master.schedulers.get('acme-br-primary')!.runtime, primary, 'the push scheduler restarted with the new branches')
  assert.is(h.master.schedulers.get('acme-br-nix-build')!.runtime, triggerable, 'an unchanged scheduler keeps running')
  const second = pushed()
  await push('release-2', 'r2')
  const ss2 = (await h.master.data.buildsets.getBuildset((await second).bsid))!.sourcestamps[0]!
  assert.is(ss2.branch, 'release-2')
  const sets = await h.master.data.db.k.selectFrom('buildsets').select('bsid').where('scheduler', '=', 'acme-br-primary').execute()
  assert.is(sets.length, 2, 'release-1 (pushed before) was never built')
}, testDatabases())

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
