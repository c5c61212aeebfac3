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

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
