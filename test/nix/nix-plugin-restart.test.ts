import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { eachDb } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { localWorker, RETRY, SUCCESS, type MasterConfig } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import type { NixJobRow } from '../../plugins/nix/jobs-store.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'nix-restart-'))

eachDb(maybe, 'a master restarted mid-matrix re-runs the evaluation from the stored jobs and does not rebuild what is built', async (start, db) => {
  const repo = join(tmp, `repo-${db.name}`)
  makeFlakeRepo(repo, { checks: { one: {}, two: {}, slow: { script: '/bin/sleep 4; echo slow > $out' } } })
  const cfg: MasterConfig = {
    workers: [localWorker({ name: 'local', maxBuilds: 8 })],
    plugins: [nix({ projects: [{ name: 'acme/restart', url: repo }], workers: ['local'], buildSystems: ['x86_64-linux'] })],
  }
  const basedir = mkdtempSync(join(tmp, 'base-'))
  const dbUrl = await db.url(basedir)
  const h1 = await start(cfg, { basedir, dbUrl })
  const done = new Set<string>()
  const ready = h1.until(() => done.has('x86_64-linux.one') && done.has('x86_64-linux.two') && done.has('building:x86_64-linux.slow'), 'two built and one building', 60_000)
  h1.master.bus.subscribe('builds/*/nixjobs/*/update', (_k, m) => {
    const j = m as NixJobRow
    if (j.state === 'success') done.add(j.attr)
    if (j.state === 'building') done.add(`building:${j.attr}`)
  })
  const { bsid } = await h1.force('acme-restart-force')
  await ready
  const firstEval = (await h1.master.data.db.k.selectFrom('builds').select('buildid').where('builderid', '=', h1.builderId('acme/restart/nix-eval')).executeTakeFirstOrThrow()).buildid
  await h1.stop()

  const h2 = await start(cfg, { basedir, dbUrl })
  assert.is(await h2.waitBuildset(bsid, 60_000), SUCCESS)
  const k = h2.master.data.db.k
  const again = await k.selectFrom('builds').select('buildid').where('builderid', '=', h2.builderId('acme/restart/nix-eval')).orderBy('buildid', 'desc').executeTakeFirstOrThrow()
  const all = await k.selectFrom('builds').select(['buildid', 'builderid', 'results', 'state_string', 'buildrequestid']).execute()
  assert.ok(again.buildid > firstEval, `the evaluation ran again after the restart: ${JSON.stringify(all)}`)
  const step = await k.selectFrom('steps').select('stepid').where('buildid', '=', again.buildid).where('name', '=', 'evaluate_flake').executeTakeFirstOrThrow()
  const log = await k.selectFrom('logs').select('logid').where('stepid', '=', step.stepid).where('name', '=', 'stdio').executeTakeFirstOrThrow()
  const text = await (await fetch(`http://127.0.0.1:${h2.master.ports.www}/api/v2/logs/${log.logid}/contents`)).text()
  assert.match(text, new RegExp(`reusing the evaluation of build ${firstEval}`), 'the stored jobs of the same revision were used')
  const old = await h2.master.data.db.k.selectFrom('builds').select('results').where('buildid', '=', firstEval).executeTakeFirstOrThrow()
  assert.is(old.results, RETRY)
  const r = await fetch(`http://127.0.0.1:${h2.master.ports.www}/api/v2/builds/${again.buildid}/nixjobs`)
  const jobs = new Map(((await r.json()) as { nixjobs: NixJobRow[] }).nixjobs.map((j) => [j.attr, j]))
  assert.is(jobs.get('x86_64-linux.one')!.state, 'skipped')
  assert.is(jobs.get('x86_64-linux.one')!.reason, 'already built')
  assert.is(jobs.get('x86_64-linux.two')!.state, 'skipped')
  assert.is(jobs.get('x86_64-linux.slow')!.state, 'success')
  await h2.until(async () => (await h2.master.data.db.k.selectFrom('buildrequests').select('buildrequestid').where('complete', '=', 0).execute()).length === 0, 'no request left open')
}, testDatabases())

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
