import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { example } from '../fixtures/example-plugin/index.ts'
import { localWorker, SUCCESS, type ProjectSpec } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'nix-projects-'))

async function rpc(h: MasterHarness, path: string, method: string, params: Record<string, unknown> = {}) {
  const res = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-requested-with': 'XMLHttpRequest' }, body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  })
  return { status: res.status, body: await res.json() as { result?: unknown; error?: unknown } }
}

eachDb(maybe, "a project a source adds at run time is evaluated; a removed one's schedulers stop while another project's running build finishes untouched", async (start, db) => {
  const repoA = join(tmp, `a-${db.name}`)
  const repoB = join(tmp, `b-${db.name}`)
  makeFlakeRepo(repoA, { checks: { a: {} } })
  // Unique output text, so the store never has it from an earlier run.
  makeFlakeRepo(repoB, { checks: { slow: { script: `/bin/sleep 2; echo ${db.name}-${process.pid}-${Date.now()} > $out` } } })
  const source = { list: [] as ProjectSpec[] }
  const h = await start({
    workers: [localWorker({ name: 'local', maxBuilds: 8 })],
    plugins: [nix({ projects: [{ name: 'acme/a', url: repoA }], workers: ['local'], buildSystems: ['x86_64-linux'] }), example({ projects: source })],
  })
  // The configured project is registered by the Nix plugin, and built by it.
  const a = await h.master.projects.get('acme/a')
  assert.equal([a?.source, a?.clone_url, a?.default_branch], ['nix', repoA, 'main'])
  assert.ok(h.master.schedulers.get('acme-a-force'))

  source.list.push({ name: 'acme/b', cloneUrl: repoB })
  const reload = await rpc(h, 'projects', 'reload')
  assert.is(reload.status, 200, JSON.stringify(reload.body))
  assert.equal(reload.body.result, [{ source: 'example', added: ['acme/b'], updated: [], removed: [] }])
  // `reload` answers once the registry's subscribers' parts are applied.
  assert.ok(h.master.brd.builder('acme/b/nix-eval') && h.master.schedulers.get('acme-b-force') && h.master.schedulers.get('acme-b-primary'))
  const projects = (await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/projects?registered=true`)).json()) as { projects: { name: string; forge: string | null }[] }
  assert.equal(projects.projects.map((p) => [p.name, p.forge]), [['acme/a', null], ['acme/b', 'example']])

  const child = h.waitFor('builds/*/new', (b: { builderid: number }) => b.builderid === h.builderId('acme/b/nix-build'), 120_000)
  const { bsid } = await h.force('acme-b-force')
  await child
  // acme/b's attribute is building: take acme/a out of the registry.
  const aSchedulers = ['acme-a-force', 'acme-a-primary', 'acme-a-prs', 'acme-a-nix-build'].map((n) => h.master.schedulers.get(n)!.schedulerid)
  assert.is(await h.master.projects.remove('acme/a'), true)
  await h.until(() => !h.master.schedulers.get('acme-a-force'), "acme/a's schedulers stopped")
  for (const id of aSchedulers) {
    const row = await h.master.data.db.k.selectFrom('scheduler_masters').select('masterid').where('schedulerid', '=', id).executeTakeFirst()
    assert.is(row, undefined, 'no master runs the removed project\'s schedulers')
  }
  assert.ok(!h.master.brd.builder('acme/a/nix-eval'))
  assert.is(await h.waitBuildset(bsid, 120_000), SUCCESS, "acme/b's evaluation and build finished untouched")
  const children = await h.master.data.db.k.selectFrom('builds').select('results').where('builderid', '=', h.builderId('acme/b/nix-build')).execute()
  assert.equal(children.map((c) => c.results), [SUCCESS])
}, testDatabases())

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
