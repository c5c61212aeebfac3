import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { sql, type Kysely } from 'kysely'
import { localWorker, SUCCESS, RETRY } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import { haveTool } from '../support/tools.ts'
import { startMaster, type MasterHarness } from '../support/master-harness.ts'
import { startChildMaster, untilInDb, writeChildConfig } from '../support/child-master.ts'
import type { TestDatabase } from '../support/databases.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import type { Database } from '../../core/db/schema.ts'

// A master killed (SIGKILL) in the middle of Nix work, then started again on the same sqlite file:
// every attribute ends with exactly one successful build, none is built again once it was, and
// the database is intact. The killed master runs in its own process (test/core/master-child.ts).
const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const sqlite: TestDatabase = { name: 'sqlite', url: async (dir) => `sqlite:${join(dir, 'state.sqlite')}`, cleanup: async () => {} }
const tmp = mkdtempSync(join(tmpdir(), 'bbn-sigkill-nix-'))

interface ChildBuild { buildid: number; attr: string; results: number | null; started_at: number; complete_at: number | null }

async function childBuilds(k: Kysely<Database>, builder: string): Promise<ChildBuild[]> {
  const rows = await k.selectFrom('builds as b').innerJoin('builders as r', 'r.builderid', 'b.builderid').where('r.name', '=', builder)
    .select(['b.buildid', 'b.results', 'b.properties', 'b.started_at', 'b.complete_at']).orderBy('b.buildid').execute()
  return rows.map((b) => ({ buildid: b.buildid, results: b.results, started_at: b.started_at, complete_at: b.complete_at, attr: String((JSON.parse(b.properties) as Record<string, [unknown]>).attr?.[0] ?? '') }))
}

const evalBuilds = (k: Kysely<Database>, builder: string) => k.selectFrom('builds as b').innerJoin('builders as r', 'r.builderid', 'b.builderid')
  .where('r.name', '=', builder).select(['b.buildid', 'b.results', 'b.state_string']).orderBy('b.buildid').execute()

/** The same master, in a child process and in this one: the nix plugin on one local flake. */
function setup(name: string, checks: Record<string, object>, maxBuilds: number) {
  const basedir = mkdtempSync(join(tmp, `${name}-`))
  const repo = join(basedir, 'repo')
  makeFlakeRepo(repo, { checks, salt: `${name}-${process.pid}-${Date.now()}` })
  const dbUrl = `sqlite:${join(basedir, 'state.sqlite')}`
  const masterName = `sigkill-nix:${basedir}`
  const project = { name: `acme/${name}`, url: repo }
  const configFile = writeChildConfig(basedir, `export default defineMaster({
  basedir: ${JSON.stringify(basedir)}, db: ${JSON.stringify(dbUrl)}, masterName: ${JSON.stringify(masterName)}, logLevel: 'error', www: { port: 0 },
  workers: [localWorker({ name: 'local', maxBuilds: ${maxBuilds} })],
  plugins: [nix({ projects: [${JSON.stringify(project)}], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 2 })],
})
`, { 'core/index.ts': ['localWorker'], 'plugins/nix/index.ts': ['nix'] })
  const restart = (): Promise<MasterHarness> => startMaster(sqlite, {
    masterName, workers: [localWorker({ name: 'local', maxBuilds })],
    plugins: [nix({ projects: [project], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 2 })],
  }, { basedir, dbUrl, keepBasedir: true })
  return { basedir, dbUrl, configFile, restart, evalBuilder: `acme/${name}/nix-eval`, buildBuilder: `acme/${name}/nix-build` }
}

/** Lost: attributes without a successful build; doubled: attributes built again after one succeeded. */
function tally(attrs: string[], builds: ChildBuild[]) {
  const ok = new Map<string, ChildBuild[]>()
  for (const b of builds) if (b.results === SUCCESS) ok.set(b.attr, [...(ok.get(b.attr) ?? []), b])
  const lost = attrs.filter((a) => !ok.has(a))
  const doubled = attrs.filter((a) => {
    const first = ok.get(a)?.[0]
    return first && builds.some((b) => b.attr === a && b.buildid !== first.buildid && b.started_at >= first.complete_at!)
  })
  return { ok, lost, doubled }
}

async function integrity(k: Kysely<Database>): Promise<string[]> {
  return (await sql<{ integrity_check: string }>`PRAGMA integrity_check`.execute(k)).rows.map((r) => r.integrity_check)
}

async function settled(h: MasterHarness): Promise<void> {
  const k = h.master.data.db.k
  await h.until(async () => (await k.selectFrom('buildrequests').select('buildrequestid').where('complete', '=', 0).execute()).length === 0, 'every request to complete', 120_000)
  assert.equal(await k.selectFrom('builds').select('buildid').where('complete_at', 'is', null).execute(), [], 'no build left running')
}

maybe('[sqlite] SIGKILL during a nix evaluation: after a restart the evaluation is redone, every attribute built exactly once, the database intact', async () => {
  const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'zgate']
  const s = setup('evalkill', Object.fromEntries(names.map((n) => [n, {}])), 4)
  // A `nix` on the killed master's PATH that holds the evaluation of the shard naming `zgate`
  // (and whatever shares its shard) until the test opens the gate; the other shards, and their
  // builds, go through at once. It writes down the attributes it holds.
  const bin = join(s.basedir, 'bin')
  mkdirSync(bin)
  const held = join(s.basedir, 'held')
  const gate = join(s.basedir, 'gate')
  const realNix = execFileSync('sh', ['-c', 'command -v nix'], { encoding: 'utf8' }).trim()
  writeFileSync(join(bin, 'nix'), `#!/bin/sh
case "$1 $*" in eval*zgate*) echo $$ >> ${held}.pids; echo "$*" >> ${held}; while [ ! -e ${gate} ]; do sleep 0.02; done;; esac
exec ${realNix} "$@"
`)
  chmodSync(join(bin, 'nix'), 0o755)
  const child = startChildMaster(s.configFile, { builder: s.evalBuilder, count: 1, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } })
  try {
    const ready = await child.ready
    // Killed while `zgate` is being evaluated, once the attributes of the other shards are built.
    await untilInDb(s.dbUrl, async (db) => existsSync(held), 'the evaluation of zgate to start', 120_000)
    const heldText = readFileSync(held, 'utf8')
    const evaluating = names.filter((n) => heldText.includes(`"${n}"`))
    const builtFirst = names.filter((n) => !evaluating.includes(n))
    assert.ok(evaluating.includes('zgate') && builtFirst.length >= 1, `held: ${evaluating.join(', ')}`)
    await untilInDb(s.dbUrl, async (db) => (await childBuilds(db.k, s.buildBuilder)).filter((b) => b.results === SUCCESS).length === builtFirst.length, 'the other shards\' attributes built while zgate is evaluated', 120_000)
    await child.kill()
    for (const pid of readFileSync(`${held}.pids`, 'utf8').trim().split('\n').map(Number)) if (pid > 1) try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    writeFileSync(gate, '')

    const h = await s.restart()
    try {
      const k = h.master.data.db.k
      const brid = ready.brids![0]!
      const { buildsetid } = await k.selectFrom('buildrequests').select('buildsetid').where('buildrequestid', '=', brid).executeTakeFirstOrThrow()
      assert.is(await h.waitBuildset(buildsetid, 120_000), SUCCESS)
      await settled(h)
      const evals = await evalBuilds(k, s.evalBuilder)
      assert.equal(evals.map((e) => e.results), [RETRY, SUCCESS], `the interrupted evaluation ended RETRY and ran again: ${JSON.stringify(evals)}`)
      const builds = await childBuilds(k, s.buildBuilder)
      const attrs = names.map((n) => `x86_64-linux.${n}`)
      const { ok, lost, doubled } = tally(attrs, builds)
      assert.equal(lost, [], 'no attribute lost')
      assert.equal(doubled, [], 'no attribute built again')
      assert.ok(attrs.every((a) => ok.get(a)!.length === 1), `each attribute succeeded once: ${JSON.stringify(builds)}`)
      assert.ok(builtFirst.every((n) => ok.get(`x86_64-linux.${n}`)![0]!.buildid < evals[1]!.buildid), 'those built before the kill were not built again')
      const jobs = await k.selectFrom('nix_jobs' as never).select(['attr', 'state', 'reason'] as never).where('buildid' as never, '=', evals[1]!.buildid as never).execute() as { attr: string; state: string; reason: string | null }[]
      assert.equal(jobs.map((j) => `${j.attr}:${j.state}`).sort(), names.map((n) => `x86_64-linux.${n}:${evaluating.includes(n) ? 'success' : 'skipped'}`))
      assert.equal(await integrity(k), ['ok'])
      console.log(`sigkill during evaluation [sqlite]: ${attrs.length} attributes (${builtFirst.length} built before the kill, ${evaluating.length} evaluating), ${lost.length} lost, ${doubled.length} doubled; evaluation redone; integrity_check ok`)
    } finally {
      await h.stop()
    }
  } finally {
    await child.kill()
  }
})

maybe('[sqlite] SIGKILL during a 100-attribute matrix: after a restart every attribute has one successful result, none built twice, the database intact', async () => {
  const N = 100
  const names = Array.from({ length: N }, (_, i) => `c${String(i).padStart(3, '0')}`)
  const s = setup('matrixkill', Object.fromEntries(names.map((n) => [n, {}])), 25)
  const child = startChildMaster(s.configFile, { builder: s.evalBuilder, count: 1 })
  let builtBefore = 0, interrupted = 0
  try {
    const ready = await child.ready
    // Killed with a third of the matrix built and more children running or queued.
    await untilInDb(s.dbUrl, async (db) => (await childBuilds(db.k, s.buildBuilder)).filter((b) => b.results === SUCCESS).length >= N / 3, 'a third of the matrix built', 180_000)
    await child.kill()
    const before = await untilInDb(s.dbUrl, (db) => childBuilds(db.k, s.buildBuilder), 'the builds of the killed master')
    builtBefore = before.filter((b) => b.results === SUCCESS).length
    interrupted = before.filter((b) => b.complete_at == null).length
    assert.ok(builtBefore < N, 'the matrix was not over when the master was killed')

    const h = await s.restart()
    try {
      const k = h.master.data.db.k
      const { buildsetid } = await k.selectFrom('buildrequests').select('buildsetid').where('buildrequestid', '=', ready.brids![0]!).executeTakeFirstOrThrow()
      assert.is(await h.waitBuildset(buildsetid, 180_000), SUCCESS)
      await settled(h)
      const evals = await evalBuilds(k, s.evalBuilder)
      assert.equal(evals.map((e) => e.results), [RETRY, SUCCESS], `the interrupted evaluation build ended RETRY and ran again: ${JSON.stringify(evals)}`)
      const attrs = names.map((n) => `x86_64-linux.${n}`)
      const builds = await childBuilds(k, s.buildBuilder)
      const { ok, doubled } = tally(attrs, builds)
      // The last evaluation's view: built now, or skipped because already built (by the killed
      // master, possibly by a nix process it left behind that finished after the kill).
      const jobs = new Map((await k.selectFrom('nix_jobs' as never).select(['attr', 'state', 'reason', 'out_path'] as never).where('buildid' as never, '=', evals[1]!.buildid as never).execute() as { attr: string; state: string; reason: string | null; out_path: string }[]).map((j) => [j.attr, j]))
      const lost = attrs.filter((a) => {
        const j = jobs.get(a)
        if (!j || !existsSync(j.out_path)) return true
        return (ok.get(a)?.length ?? 0) === 0 && !(j.state === 'skipped' && j.reason === 'already built')
      })
      const twice = attrs.filter((a) => (ok.get(a)?.length ?? 0) > 1)
      assert.equal(lost, [], 'no attribute lost')
      assert.equal(doubled, [], 'no attribute built again once it was')
      assert.equal(twice, [], 'no attribute with two successful builds')
      assert.equal(await integrity(k), ['ok'])
      console.log(`sigkill during a matrix [sqlite]: ${N} attributes, ${lost.length} lost, ${doubled.length + twice.length} doubled; ${builtBefore} built before the kill, ${interrupted} builds interrupted; integrity_check ok`)
    } finally {
      await h.stop()
    }
  } finally {
    await child.kill()
  }
})

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
