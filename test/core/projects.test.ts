import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { builder, CANCELLED, definePlugin, localWorker, schedulers, steps, SUCCESS, type PluginRuntime, type ProjectSpec } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'

const dbs = testDatabases()
const projectSlug = (name: string) => name.replace(/[/.]/g, '-')
const gates: string[] = []
/** A gate file per test run (`tag`) and project. */
const gateOf = (tag: string, name: string) => { const g = join(tmpdir(), `bbn-proj-gate-${process.pid}-${tag}-${projectSlug(name)}`); gates.push(g); return g }

/**
 * Follows the project registry: per project a builder `<name>/run` (waiting for the project's
 * gate file) and a force scheduler `<slug>-force`, as one runtime group. Projects whose name
 * starts with `bad/` ask for a worker that does not exist, so their group is refused.
 */
const groups = definePlugin<{ refused: string[]; tag: string; pollers?: string[] }>({
  name: 'groups',
  setup(api, o) {
    api.onStart(async (rt: PluginRuntime) => {
      const apply = async (p: { name: string }) => {
        const gate = gateOf(o.tag, p.name)
        const ok = await rt.parts.set(p.name, {
          builders: [builder({ name: `${p.name}/run`, workers: [p.name.startsWith('bad/') ? 'nope' : 'w'], project: p.name, steps: [steps.shell({ command: ['sh', '-c', `i=0; while [ ! -e ${gate} ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done`] })] })],
          schedulers: [schedulers.force({ name: `${projectSlug(p.name)}-force`, builderNames: [`${p.name}/run`] })],
          // A stand-in for the project's poller: it records its start and stop.
          changeSources: [{
            kind: 'changesource', type: 'recorder', name: `poll:${p.name}`, fingerprint: {},
            create: () => ({ start() { o.pollers?.push(`start ${p.name}`) }, stop() { o.pollers?.push(`stop ${p.name}`) } }),
          }],
        })
        if (!ok) o.refused.push(p.name)
      }
      for (const p of await rt.projects.list()) await apply(p)
      const sub = rt.projects.subscribe((e) => { void (e.type === 'removed' ? rt.parts.delete(e.project.name) : apply(e.project)) })
      rt.signal.addEventListener('abort', () => sub.unsubscribe())
    })
  },
})

/** A project source whose list the test changes (`list`), failing while `fail` is set. */
const sourced = definePlugin<{ list: ProjectSpec[]; fail?: boolean }>({
  name: 'sourced',
  setup(api, o) {
    api.addProjectSource({ name: 'forge', async discover() { if (o.fail) throw new Error('the forge answered 503'); return o.list.map((p) => ({ ...p })) } })
  },
})

async function rest<T>(h: MasterHarness, path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/${path}`)
  assert.is(res.status, 200, path)
  return await res.json() as T
}
async function rpc(h: MasterHarness, path: string, method: string, params: Record<string, unknown> = {}) {
  const res = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }) })
  return { status: res.status, body: await res.json() as { result?: unknown; error?: { code: number; message: string } } }
}
type RestProject = Record<string, unknown> & { name: string }
const projectRows = async (h: MasterHarness) => (await rest<{ projects: RestProject[] }>(h, 'projects')).projects

eachDb(test, 'registry: add, update and remove at run time; subscribers hear each change; REST shows it', async (start) => {
  const h = await start({ workers: [localWorker({ name: 'w' })], builders: [builder({ name: 'plain', workers: ['w'], project: 'named-only', steps: [steps.shell({ command: ['true'] })] })] })
  const events: string[] = []
  h.master.projects.subscribe((e) => events.push(`${e.type}:${e.project.name}`))
  await h.master.projects.add({ name: 'acme/app', cloneUrl: 'https://example.org/acme/app.git', forge: 'github', private: true, owner: 'acme', webUrl: 'https://example.org/acme/app', branches: ['release-*'], pollInterval: 60 })
  const updated = await h.master.projects.update('acme/app', { defaultBranch: 'trunk' })
  assert.is(updated.default_branch, 'trunk')
  assert.is(updated.clone_url, 'https://example.org/acme/app.git', 'an update keeps what it does not name')
  await h.master.projects.add({ name: 'acme/app', cloneUrl: 'https://example.org/acme/app.git', forge: 'github', private: true, owner: 'acme', webUrl: 'https://example.org/acme/app', branches: ['release-*'], pollInterval: 60, defaultBranch: 'trunk' })
  assert.equal(events, ['added:acme/app', 'updated:acme/app'], 'registering the same again changes nothing')

  const rows = await projectRows(h)
  const app = rows.find((p) => p.name === 'acme/app')!
  assert.equal({ ...app, projectid: 0 }, {
    projectid: 0, name: 'acme/app', slug: 'acme-app', active: null, description: null, description_format: null, description_html: null,
    registered: true, forge: 'github', clone_url: 'https://example.org/acme/app.git', default_branch: 'trunk', private: true, owner: 'acme',
    web_url: 'https://example.org/acme/app', branches: ['release-*'], poll_interval: 60, source: 'runtime',
  })
  assert.is(rows.find((p) => p.name === 'named-only')!.registered, false, 'a project only a builder names is not registered')
  const filtered = await rest<{ projects: RestProject[] }>(h, 'projects?registered=true')
  assert.equal(filtered.projects.map((p) => p.name), ['acme/app'])

  assert.is(await h.master.projects.remove('acme/app'), true)
  assert.is(await h.master.projects.remove('acme/app'), false)
  assert.equal(events, ['added:acme/app', 'updated:acme/app', 'removed:acme/app'])
  assert.equal(await h.master.projects.list(), [])
  assert.is((await projectRows(h)).find((p) => p.name === 'acme/app')!.registered, false, 'the row stays for the builds that name it')

  await h.master.projects.add({ name: '', cloneUrl: '' }).then(() => assert.unreachable('accepted'), (e: Error) => assert.match(e.message, 'needs a name'))
  await h.master.projects.add({ name: 'x', cloneUrl: '' }).then(() => assert.unreachable('accepted'), (e: Error) => assert.match(e.message, "project 'x' needs cloneUrl"))
  await h.master.projects.update('nobody', {}).then(() => assert.unreachable('accepted'), (e: Error) => assert.match(e.message, "no registered project named 'nobody'"))
}, dbs)

eachDb(test, "JSON-RPC reload asks every project source again: new ones added, changed ones updated, gone ones removed; a failing source keeps its projects", async (start) => {
  const o = { list: [{ name: 'f/one', cloneUrl: '/r/one' }, { name: 'f/two', cloneUrl: '/r/two' }] as ProjectSpec[], fail: false }
  const h = await start({ workers: [localWorker({ name: 'w' })], plugins: [sourced(o)] })
  // The first discovery runs in the background after start.
  await h.until(async () => (await h.master.projects.list()).length === 2, 'the first discovery')
  await h.master.projects.add({ name: 'mine', cloneUrl: '/r/mine' })
  o.list = [{ name: 'f/two', cloneUrl: '/r/two', defaultBranch: 'dev' }, { name: 'f/three', cloneUrl: '/r/three' }]
  const r = await rpc(h, 'projects', 'reload')
  assert.is(r.status, 200)
  assert.equal(r.body.result, [{ source: 'forge', added: ['f/three'], updated: ['f/two'], removed: ['f/one'] }])
  const list = await h.master.projects.list()
  assert.equal(list.map((p) => [p.name, p.source, p.default_branch]), [['f/three', 'forge', 'main'], ['f/two', 'forge', 'dev'], ['mine', 'runtime', 'main']])
  o.fail = true
  const failed = await rpc(h, 'projects', 'reload')
  assert.equal(failed.body.result, [{ source: 'forge', added: [], updated: [], removed: [], error: 'the forge answered 503' }])
  assert.equal((await h.master.projects.list()).map((p) => p.name), ['f/three', 'f/two', 'mine'])
  // Without the plugin, its source's projects leave the registry; the others stay.
  await h.master.reconfigure(await h.resolve({ workers: [localWorker({ name: 'w' })] }))
  assert.equal((await h.master.projects.list()).map((p) => p.name), ['mine'])
}, dbs)

eachDb(test, "runtime groups: a project's builders and schedulers come and go with the registry; removing one leaves the other's running build untouched; a bad group is refused", async (start, db) => {
  const refused: string[] = []
  const pollers: string[] = []
  const tag = `${db.name}-${Date.now()}`
  const h = await start({ workers: [localWorker({ name: 'w' })], plugins: [groups({ refused, tag, pollers })] })
  await h.master.projects.add({ name: 'p/a', cloneUrl: '/r/a' })
  await h.master.projects.add({ name: 'p/b', cloneUrl: '/r/b' })
  await h.until(() => h.master.schedulers.get('p-a-force') && h.master.schedulers.get('p-b-force'), 'both groups applied')
  const startedA = h.waitFor('builds/*/new', (b: { builderid: number }) => b.builderid === h.builderId('p/a/run'))
  const a = await h.force('p-a-force')
  await startedA
  const startedB = h.waitFor('builds/*/new', (b: { builderid: number }) => b.builderid === h.builderId('p/b/run'))
  const b = await h.force('p-b-force')
  await startedB
  const bSched = h.master.schedulers.get('p-b-force')!.schedulerid

  await h.master.projects.remove('p/b')
  // Schedulers stop before change sources: wait for the whole removal.
  await h.until(() => !h.master.schedulers.get('p-b-force') && pollers.includes('stop p/b'), "p/b's schedulers and poller stopped")
  assert.ok(!h.master.brd.builder('p/b/run'), "p/b's builder is gone")
  assert.equal(pollers, ['start p/a', 'start p/b', 'stop p/b'], "p/b's poller stopped, p/a's was never restarted")
  const sched = (await rest<{ schedulers: { name: string; master: unknown }[] }>(h, `schedulers/${bSched}`)).schedulers[0]!
  assert.is(sched.master, null, 'the scheduler runs on no master')
  assert.ok(h.master.schedulers.get('p-a-force'), "p/a's scheduler keeps running")
  const runningA = await h.master.data.db.k.selectFrom('builds').select('complete_at').where('buildrequestid', '=', a.brids[String(h.builderId('p/a/run'))]!).executeTakeFirstOrThrow()
  assert.is(runningA.complete_at, null, "p/a's build still runs")

  writeFileSync(gateOf(tag, 'p/a'), '')
  writeFileSync(gateOf(tag, 'p/b'), '')
  assert.is(await h.waitBuildset(a.bsid), SUCCESS, "p/a's build finished untouched")
  assert.is(await h.waitBuildset(b.bsid), SUCCESS, "the removed project's own running build finished")

  await h.master.projects.add({ name: 'bad/one', cloneUrl: '/r/bad' })
  await h.until(() => refused.length, 'the bad group refused')
  assert.equal(refused, ['bad/one'])
  assert.ok(!h.master.schedulers.get('bad-one-force'))
  assert.ok(h.master.schedulers.get('p-a-force'), 'the refusal touched nothing else')
}, dbs)

eachDb(test, "a removed group's running build can still be stopped, and a master stopping with one running ends", async (start, db) => {
  const tag = `${db.name}-stop-${Date.now()}`
  const h = await start({ workers: [localWorker({ name: 'w' })], plugins: [groups({ refused: [], tag })] })
  await h.master.projects.add({ name: 'q/a', cloneUrl: '/r/a' })
  await h.master.projects.add({ name: 'q/b', cloneUrl: '/r/b' })
  await h.until(() => h.master.schedulers.get('q-a-force') && h.master.schedulers.get('q-b-force'), 'both groups applied')
  const started = (name: string) => h.waitFor('builds/*/new', (b: { builderid: number; buildid: number }) => b.builderid === h.builderId(name))
  const firstStarted = started('q/a/run')
  const a = await h.force('q-a-force')
  const buildA = await firstStarted
  const secondStarted = started('q/b/run')
  await h.force('q-b-force')
  await secondStarted
  await h.master.projects.remove('q/a')
  await h.master.projects.remove('q/b')
  await h.until(() => !h.master.schedulers.get('q-a-force') && !h.master.schedulers.get('q-b-force'), 'both groups removed')
  await h.master.control.stopBuild(buildA.buildid, 'no longer wanted')
  assert.is(await h.waitBuildset(a.bsid), CANCELLED, "the removed group's build was stopped")
  // q/b's build still waits for its gate: stopping the master must interrupt it, not wait for it.
  await h.stop()
}, dbs)

test.after(() => { for (const g of gates) rmSync(g, { force: true }) })
test.run()
