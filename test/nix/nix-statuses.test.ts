import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { startChildMaster } from '../support/child-master.ts'
import { connectDb } from '../../core/db/connect.ts'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { startStatusReceiver, type StatusReceiver } from '../support/status-receiver.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { example } from '../fixtures/example-plugin/index.ts'
import { definePlugin, localWorker, steps, FAILURE, SUCCESS } from '../../core/index.ts'
import { nix, NixKey, type NixAttributeFinished, type NixMatrixFinished } from '../../plugins/nix/index.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'nix-statuses-'))
const dbs = testDatabases()

/** What the probe plugin saw: attribute results, finished matrices, post-build step runs. */
interface Seen { attrs: NixAttributeFinished[]; matrices: NixMatrixFinished[]; post: string[] }

/** A plugin using the Nix hooks and conditional post-build steps, as a cache or effects plugin would. */
const probe = definePlugin<{ seen: Seen }>({
  name: 'probe',
  requires: [NixKey],
  setup(api, { seen }) {
    const nixApi = api.use(NixKey)
    const record = (tag: string) => steps.custom({
      name: tag, async run(ctx) { seen.post.push(`${tag}:${String(ctx.getProperty('attr'))}:${ctx.build.builderName}`); return SUCCESS },
    })
    nixApi.addPostBuildStep(record('main'), { when: { branches: ['main'] }, alsoForSkipped: true })
    nixApi.addPostBuildStep(record('release'), { when: { branches: ['release-*'] } })
    nixApi.addPostBuildStep(record('trusted'), { when: { trustedOnly: true } })
    nixApi.hooks.attributeFinished.tap((ev) => { seen.attrs.push(ev) })
    nixApi.hooks.matrixFinished.tap((ev) => {
      seen.matrices.push(ev)
      ev.addSteps([steps.shell({ name: 'after matrix', command: ['sh', '-c', 'test -f flake.nix'] })])
    })
  },
})

/** Last delivered state per context of one commit, and how many times each final state arrived. */
function statusesOf(rx: StatusReceiver, sha: string) {
  const last = new Map<string, Record<string, unknown>>()
  const count = new Map<string, number>()
  for (const b of rx.delivered.filter((d) => d.sha === sha)) {
    last.set(String(b.context), b)
    const k = `${String(b.context)}=${String(b.state)}`
    count.set(k, (count.get(k) ?? 0) + 1)
  }
  return { last, count }
}

async function settle(h: MasterHarness, rx: StatusReceiver, sha: string): Promise<void> {
  await h.until(() => {
    const s = statusesOf(rx, sha).last.get('buildbot/nix-build')?.state
    return s === 'success' || s === 'failure' || s === 'error'
  }, `the final buildbot/nix-build status of ${sha}`, 60_000)
  await h.until(async () => (await h.master.data.statuses.unsent('example-statuses')).length === 0, 'the status outbox to be empty', 60_000)
}

const stepsOf = (h: MasterHarness, buildid: number) =>
  h.master.data.db.k.selectFrom('steps').select(['name', 'results', 'hidden']).where('buildid', '=', buildid).orderBy('number').execute()

eachDb(maybe, 'Nix events become buildbot-nix statuses through the outbox; attributes compare with the default branch; post-build steps follow their conditions', async (start, db) => {
  const repo = join(tmp, `repo-${db.name}`)
  const salt = `st-${process.pid}-${Date.now()}`
  const base = { ok: {}, broken: { script: 'echo no; exit 1' }, needs: { deps: ['broken'] } }
  const rev1 = makeFlakeRepo(repo, { checks: base, salt })
  // The receiver fails three times, then asks to wait, then takes everything.
  const rx = await startStatusReceiver((n) => (n < 3 ? { status: 502 } : n === 3 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 201 }))
  const seen: Seen = { attrs: [], matrices: [], post: [] }
  try {
    const h = await start({
      workers: [localWorker({ name: 'local', maxBuilds: 8 })],
      plugins: [
        nix({ projects: [{ name: 'acme/st', url: repo, branches: ['release-*'] }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 2 }),
        example({ statuses: { url: rx.url, retry: { initialMs: 10, maxMs: 100 } } }),
        probe({ seen }),
      ],
    })
    const evalBuilder = h.builderId('acme/st/nix-eval')
    const evalBuild = async (bsid: number): Promise<number> => (await h.master.data.db.k.selectFrom('builds').innerJoin('buildrequests', 'buildrequests.buildrequestid', 'builds.buildrequestid')
      .select('builds.buildid').where('buildrequests.buildsetid', '=', bsid).where('builds.builderid', '=', evalBuilder).executeTakeFirstOrThrow()).buildid

    // 1. The default branch: two failures, both new.
    const first = await h.force('acme-st-force')
    assert.is(await h.waitBuildset(first.bsid, 120_000), FAILURE)
    await settle(h, rx, rev1)
    const s1 = statusesOf(rx, rev1)
    assert.equal([...s1.last.keys()].sort(), ['buildbot/nix-build', 'buildbot/nix-build/x86_64-linux.broken', 'buildbot/nix-build/x86_64-linux.needs', 'buildbot/nix-eval'])
    assert.is(s1.last.get('buildbot/nix-eval')!.state, 'success')
    assert.match(String(s1.last.get('buildbot/nix-eval')!.description), /Evaluated 3 attributes/)
    assert.is(s1.last.get('buildbot/nix-build')!.state, 'failure')
    assert.is(s1.last.get('buildbot/nix-build/x86_64-linux.broken')!.state, 'failure')
    assert.match(String(s1.last.get('buildbot/nix-build/x86_64-linux.broken')!.description), /build failed \(new failure\)/)
    assert.match(String(s1.last.get('buildbot/nix-build/x86_64-linux.broken')!.target_url), /#\/builders\/\d+\/builds\/\d+$/)
    assert.is(s1.last.get('buildbot/nix-build')!.repository, 'acme/st')
    for (const [k, times] of s1.count) if (!k.endsWith('=pending')) assert.is(times, 1, `${k} arrived once`)
    assert.equal(rx.received.slice(0, 4).map((r) => r.answered), [502, 502, 502, 429])
    const e1 = await evalBuild(first.bsid)
    const byAttr = (id: number) => new Map(seen.attrs.filter((a) => a.buildid === id).map((a) => [a.attr.replace('x86_64-linux.', ''), a]))
    const a1 = byAttr(e1)
    assert.equal([a1.get('ok')!.change, a1.get('broken')!.change, a1.get('needs')!.change], ['passing', 'new-failure', 'new-failure'])
    assert.is(a1.get('broken')!.previous, null)
    const m1 = seen.matrices.find((m) => m.buildid === e1)!
    assert.equal([m1.results, m1.revision, m1.branch, m1.trusted, m1.isDefaultBranch, m1.isPullRequest], [FAILURE, rev1, 'main', true, true, false])
    assert.ok(existsSync(join(m1.flakeDir, 'flake.nix')) && m1.checkoutDir === m1.flakeDir)
    assert.equal(m1.counts, { success: 1, failed: 1, 'dependency-failed': 1 })
    const st1 = await stepsOf(h, e1)
    assert.equal(st1.filter((s) => s.name === 'after_matrix').map((s) => s.results), [SUCCESS], 'the step the matrixFinished handler added ran in the evaluation build')
    assert.equal(seen.post.sort(), ['main:x86_64-linux.ok:acme/st/nix-build', 'trusted:x86_64-linux.ok:acme/st/nix-build'])

    // 2. The next commit fixes `broken` (and `needs`), keeps `ok` (already built) and adds a failure.
    seen.post.length = 0
    const rev2 = makeFlakeRepo(repo, { checks: { ...base, broken: {}, other: { script: 'exit 4' } }, salt })
    const second = await h.force('acme-st-force')
    assert.is(await h.waitBuildset(second.bsid, 120_000), FAILURE)
    await settle(h, rx, rev2)
    const e2 = await evalBuild(second.bsid)
    const a2 = byAttr(e2)
    assert.equal([a2.get('ok')!.state, a2.get('ok')!.change], ['skipped', 'passing'])
    assert.equal([a2.get('broken')!.change, a2.get('broken')!.previous?.state, a2.get('broken')!.previous?.buildid], ['fixed', 'failed', e1])
    assert.is(a2.get('needs')!.change, 'fixed')
    assert.is(a2.get('other')!.change, 'new-failure')
    const s2 = statusesOf(rx, rev2)
    assert.equal([...s2.last.keys()].sort(), ['buildbot/nix-build', 'buildbot/nix-build/x86_64-linux.other', 'buildbot/nix-eval'], 'successes of attributes never reported failed on this commit are not sent')
    // `ok` was skipped as already built: its alsoForSkipped step ran in the evaluation build, with its properties.
    assert.ok(seen.post.includes('main:x86_64-linux.ok:acme/st/nix-eval'), seen.post.join(' '))
    assert.ok(seen.post.includes('main:x86_64-linux.broken:acme/st/nix-build'))
    assert.ok(!seen.post.includes('trusted:x86_64-linux.ok:acme/st/nix-eval'), 'only alsoForSkipped steps run for skipped attributes')
    assert.ok((await stepsOf(h, e2)).some((s) => s.name.startsWith('main_x86_64') && s.results === SUCCESS))

    // 3. An untrusted build of a release branch: `other` still fails; only the release step runs.
    seen.post.length = 0
    makeFlakeRepo(repo, { checks: { ...base, broken: {}, other: { script: 'exit 4' }, fresh: {} }, salt })
    const { execFileSync } = await import('node:child_process')
    execFileSync('git', ['branch', '-f', 'release-1'], { cwd: repo })
    const rev3 = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim()
    const [third] = await h.master.data.buildsets.addBuildsets([{
      reason: 'untrusted test', builderids: [evalBuilder], trusted: false,
      sourcestamps: [{ branch: 'release-1', revision: rev3, repository: repo, project: 'acme/st', codebase: '' }],
    }])
    assert.is(await h.waitBuildset(third!.bsid, 120_000), FAILURE)
    await settle(h, rx, rev3)
    const e3 = await evalBuild(third!.bsid)
    const a3 = byAttr(e3)
    assert.equal([a3.get('other')!.change, a3.get('other')!.previous?.buildid], ['still-failing', e2])
    assert.match(String(statusesOf(rx, rev3).last.get('buildbot/nix-build/x86_64-linux.other')!.description), /also fails on main/)
    assert.equal(seen.post.sort(), ['release:x86_64-linux.fresh:acme/st/nix-build'])
    const m3 = seen.matrices.find((m) => m.buildid === e3)!
    assert.equal([m3.trusted, m3.isDefaultBranch, m3.branch], [false, false, 'release-1'])
  } finally { await rx.close() }
}, dbs)

const root = resolve(import.meta.dirname, '../..')

eachDb(maybe, 'a master killed (kill -9) with statuses stored but not sent delivers them after its restart, each final state once', async (start, db) => {
  const repo = join(tmp, `kill-${db.name}`)
  const rev = makeFlakeRepo(repo, { checks: { ok: {}, broken: { script: 'exit 1' } }, salt: `kill-${process.pid}-${Date.now()}` })
  const basedir = mkdtempSync(join(tmp, `kill-master-${db.name}-`))
  // The killed master's requests are never answered.
  const rx = await startStatusReceiver(() => 'hang')
  try {
    const dbUrl = await db.url(basedir)
    const masterName = `statuses-kill:${basedir}`
    const plugins = `[nix({ projects: [{ name: 'acme/kill', url: ${JSON.stringify(repo)} }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 2 }), example({ statuses: { url: ${JSON.stringify(rx.url)} } })]`
    writeFileSync(join(basedir, 'package.json'), '{"type":"module"}')
    const configFile = join(basedir, 'master.config.ts')
    writeFileSync(configFile, `import { defineMaster, localWorker } from ${JSON.stringify(join(root, 'core/index.ts'))}
import { nix } from ${JSON.stringify(join(root, 'plugins/nix/index.ts'))}
import { example } from ${JSON.stringify(join(root, 'test/fixtures/example-plugin/index.ts'))}
export default defineMaster({
  basedir: ${JSON.stringify(basedir)}, db: ${JSON.stringify(dbUrl)}, masterName: ${JSON.stringify(masterName)}, logLevel: 'error', www: { port: 0 },
  workers: [localWorker({ name: 'local', maxBuilds: 4 })],
  plugins: ${plugins},
})
`)
    const child = startChildMaster(configFile, { builder: 'acme/kill/nix-eval', count: 1 })
    try {
      await child.ready
      // The matrix is over and its combined status is stored, unsent (the receiver never answers).
      const probeDb = await connectDb(dbUrl)
      const deadline = Date.now() + 120_000
      for (;;) {
        const rows = await probeDb.k.selectFrom('status_outbox').select(['context', 'state', 'sent_at_ms']).execute()
        if (rows.some((r) => r.context === 'buildbot/nix-build' && r.state === 'failure' && r.sent_at_ms == null)) break
        if (Date.now() > deadline) throw new Error(`the killed master never stored the final status: ${JSON.stringify(rows)}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      await probeDb.close()
    } finally {
      await child.kill()
    }
    assert.equal(rx.delivered, [])
    rx.setPlan(() => ({ status: 201 }))
    const h = await start({
      masterName, workers: [localWorker({ name: 'local', maxBuilds: 4 })],
      plugins: [
        nix({ projects: [{ name: 'acme/kill', url: repo }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 2 }),
        example({ statuses: { url: rx.url } }),
      ],
    }, { basedir, dbUrl })
    await settle(h, rx, rev)
    const { last, count } = statusesOf(rx, rev)
    assert.equal(Object.fromEntries([...last].map(([k, v]) => [k, v.state])), {
      'buildbot/nix-eval': 'success', 'buildbot/nix-build': 'failure', 'buildbot/nix-build/x86_64-linux.broken': 'failure',
    })
    for (const [k, times] of count) assert.is(times, 1, `${k} arrived once`)
  } finally { await rx.close() }
}, dbs)

test.run()
