import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { serveBinaryCache } from '../support/binary-cache-server.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { installStandIns } from '../fixtures/cache-tools/stand-ins.ts'
import { validIn } from '../fixtures/cache-tools/closures.ts'
import { startChildMaster } from '../support/child-master.ts'
import { connectDb } from '../../core/db/connect.ts'
import { localWorker, secretsFromObject, SKIPPED, SUCCESS, WARNINGS } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import { binaryCaches } from '../../plugins/cachix/index.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'binary-caches-'))
const dbs = testDatabases()
const root = resolve(import.meta.dirname, '../..')
const SECRET = `cachix-secret-${process.pid}`

const closureOf = (out: string): string[] =>
  (JSON.parse(execFileSync('nix', ['path-info', '--recursive', '--json', out], { encoding: 'utf8' })) as { path: string }[]).map((r) => r.path).sort()

function secretFile(name: string, value: string): string {
  const f = join(tmp, name)
  writeFileSync(f, value, { mode: 0o600 })
  return f
}

interface StepRow { buildid: number; name: string; results: number | null; state_string: string; hidden: number | boolean }

async function childBuilds(h: MasterHarness, builder: string): Promise<{ buildid: number; results: number | null; attr: string; out: string }[]> {
  const builderid = h.builderId(builder)
  const builds = await h.master.data.db.k.selectFrom('builds').select(['buildid', 'results', 'properties']).where('builderid', '=', builderid).orderBy('buildid').execute()
  return builds.map((b) => {
    const props = JSON.parse(b.properties) as Record<string, [unknown, string]>
    return { buildid: Number(b.buildid), results: b.results, attr: String(props.attr?.[0] ?? ''), out: String(props.out_path?.[0] ?? '') }
  })
}

const stepsOf = async (h: MasterHarness, buildid: number): Promise<StepRow[]> =>
  (await h.master.data.db.k.selectFrom('steps').select(['buildid', 'name', 'results', 'state_string', 'hidden']).where('buildid', '=', buildid).orderBy('number').execute()) as StepRow[]

eachDb(maybe, 'a default-branch matrix pushes every output closure once; a cache failing twice catches up, one always failing gives WARNINGS; an untrusted pull request pushes nothing and sees no secret', async (start, db) => {
  const repo = join(tmp, `repo-${db.name}`)
  const salt = `bc-${process.pid}-${Date.now()}-${db.name}`
  const checks = { dep: {}, app: { deps: ['dep'], script: 'echo $deps > $out' }, solo: {} }
  makeFlakeRepo(repo, { checks, salt })
  const fileCache = join(tmp, `file-cache-${db.name}`)
  const tools = installStandIns(join(tmp, `tools-${db.name}`), {
    cachix: { store: `file://${tmp}/flaky-${db.name}`, token: 'queue-token', cache: 'flaky', fail: 2 },
    niks3: { store: `file://${tmp}/never-${db.name}`, token: 'niks3-token', serverUrl: 'https://niks3.example.org', fail: -1 },
  })
  // What buildbot-nix's cachix module configures, as a user's post-build step.
  const post = installStandIns(join(tmp, `post-${db.name}`), { cachix: { store: `file://${tmp}/post-${db.name}`, token: SECRET, cache: 'post' } })
  const interp = (value: string) => ({ _type: 'interpolate' as const, value })
  const h = await start({
    secretsProviders: [secretsFromObject({ 'cachix-token': SECRET })],
    workers: [localWorker({ name: 'local', maxBuilds: 4 })],
    plugins: [
      nix({ projects: [{ name: 'acme/cache', url: repo }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1 }),
      binaryCaches({
        nixStore: { url: `file://${fileCache}` },
        cachix: { name: 'flaky', auth: { authToken: { file: secretFile(`queue-token-${db.name}`, 'queue-token') } }, executable: tools.path('cachix') },
        niks3: { serverUrl: 'https://niks3.example.org', authTokenFile: secretFile(`niks3-${db.name}`, 'niks3-token'), executable: tools.path('niks3') },
        retry: { attempts: 3, initialDelay: 0.02, maxDelay: 0.1 },
        postBuildSteps: [{
          name: 'Upload cachix', command: [post.path('cachix'), 'push', 'post', interp('result-%(prop:attr)s')],
          environment: { CACHIX_AUTH_TOKEN: interp('%(secret:cachix-token)s') }, warnOnly: true,
        }],
      }),
    ],
  })

  // 1. The default branch: every attribute built, results stand (WARNINGS from the cache that never works).
  const first = await h.force('acme-cache-force')
  assert.is(await h.waitBuildset(first.bsid, 180_000), WARNINGS)
  const children = await childBuilds(h, 'acme/cache/nix-build')
  assert.equal(children.map((c) => c.attr.replace('x86_64-linux.', '')).sort(), ['app', 'dep', 'solo'])
  const closures = [...new Set(children.flatMap((c) => closureOf(c.out)))].sort()
  assert.is(closures.length, 3)
  assert.is(closureOf(children.find((c) => c.attr.endsWith('.app'))!.out).length, 2, 'app refers to dep: their closures share it')
  for (const c of children) {
    assert.is(c.results, WARNINGS, `${c.attr}: the failing cache warns, the build stands`)
    const st = await stepsOf(h, c.buildid)
    const by = (re: RegExp) => st.find((s) => re.test(s.name))
    assert.is(by(/^nix_build$/)?.results, SUCCESS)
    assert.is(by(/^upload_to_file_/)?.results, SUCCESS)
    assert.match(by(/^upload_to_file_/)!.state_string, /^pushed \d+ paths? \(\d+(\.\d)? (B|KiB)\) to file:\/\/.* in \d+\.\d s/)
    assert.is(by(/^upload_to_cachix_flaky$/)?.results, SUCCESS, 'the flaky cache got there after its two failures')
    assert.is(by(/^upload_to_niks3_/)?.results, WARNINGS)
    assert.match(by(/^upload_to_niks3_/)!.state_string, /paths not pushed to niks3 niks3\.example\.org: niks3 push exited with 1: .*502 Bad Gateway/)
    assert.is(by(/^Upload_cachix$/)?.results, SUCCESS)
  }
  // Every closure is in the file cache, and in the HTTP binary cache served from it.
  assert.equal(await validIn(`file://${fileCache}`, closures), closures)
  const http = await serveBinaryCache(fileCache)
  try { assert.equal(await validIn(http.url, closures), closures) } finally { await http.close() }
  assert.equal(await validIn(`file://${tmp}/flaky-${db.name}`, closures), closures, 'the cache that failed twice has every path')
  // Each path pushed once per cache: the shared dependency was queued by two builds, pushed once.
  const pushedByFlaky = tools.calls().filter((c) => c.tool === 'cachix')
  assert.equal(pushedByFlaky.slice(0, 2).map((c) => c.problems), [[], []])
  assert.equal(pushedByFlaky.slice(2).flatMap((c) => c.paths).sort(), [...new Set(pushedByFlaky.slice(2).flatMap((c) => c.paths))].sort(), 'no path pushed twice once it worked')
  for (const c of tools.calls()) assert.equal(c.problems, [], `${c.tool} called as documented: ${c.problems.join('; ')}`)
  const res = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/binarycaches`)
  const rows = (await res.json() as { binarycaches: Record<string, unknown>[] }).binarycaches
  const row = (id: string) => rows.find((r) => r.cache === id)!
  assert.equal([row(`nix:file://${fileCache}`).queued, Number(row(`nix:file://${fileCache}`).pushed) + Number(row(`nix:file://${fileCache}`).present)], [0, closures.length])
  assert.equal([row('cachix:flaky').failed, row('cachix:flaky').failedAttempts], [0, 2])
  assert.equal([row('niks3:https://niks3.example.org').failed, row('niks3:https://niks3.example.org').queued], [closures.length, 0])
  assert.match(String(row('niks3:https://niks3.example.org').lastError), /502 Bad Gateway/)
  // The same figures in Prometheus' text at /metrics.
  const metrics = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/metrics`)).text()
  assert.match(metrics, /^bbn_binary_caches_queue_length\{cache="cachix flaky"\} 0$/m)
  assert.match(metrics, new RegExp(`^bbn_binary_caches_failed_paths\\{cache="niks3 niks3.example.org"\\} ${closures.length}$`, 'm'))
  assert.match(metrics, /^bbn_binary_caches_push_failures_total\{cache="cachix flaky"\} 2$/m)
  // The user's post-build step ran as buildbot-nix's: `result-<attr>` resolved, the secret in its environment only.
  const postCalls = post.calls()
  assert.equal(postCalls.map((c) => c.problems), children.map(() => []))
  assert.equal(postCalls.map((c) => c.paths[0]).sort(), children.map((c) => c.out).sort())
  assert.ok(postCalls.every((c) => c.argv[2]!.startsWith('result-x86_64-linux.')))

  // 2. An untrusted pull request: a new attribute builds, nothing is pushed, no secret is used.
  makeFlakeRepo(repo, { checks: { ...checks, fresh: { script: 'echo fresh > $out' } }, salt })
  const rev = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim()
  const callsBefore = tools.calls().length
  const [pr] = await h.master.data.buildsets.addBuildsets([{
    reason: 'pull request from outside', builderids: [h.builderId('acme/cache/nix-eval')], trusted: false,
    sourcestamps: [{ branch: 'refs/pull/7/merge', revision: rev, repository: repo, project: 'acme/cache', codebase: '' }],
  }])
  assert.is(await h.waitBuildset(pr!.bsid, 180_000), SUCCESS)
  const fresh = (await childBuilds(h, 'acme/cache/nix-build')).find((c) => c.attr.endsWith('.fresh'))!
  assert.is(fresh.results, SUCCESS)
  const freshSteps = await stepsOf(h, fresh.buildid)
  assert.ok(freshSteps.filter((s) => /^upload_to_|^Upload_cachix$/.test(s.name)).every((s) => s.results === SKIPPED && !!s.hidden), 'no upload or post-build step ran')
  assert.is(tools.calls().length, callsBefore, 'no cache tool was called')
  assert.is(post.calls().length, postCalls.length, 'the post-build step with the secret did not run')
  assert.equal(await validIn(`file://${fileCache}`, [fresh.out]), [])
  const queued = await h.master.data.db.k.selectFrom('binary_caches_queue' as never).select('path' as never).where('path' as never, '=', fresh.out as never).execute()
  assert.equal(queued, [])
  const props = await h.master.data.db.k.selectFrom('builds').select('properties').where('buildid', '=', fresh.buildid).executeTakeFirstOrThrow()
  assert.not.ok(props.properties.includes(SECRET))
}, dbs.slice(0, 1)) // sqlite: the queue's queries run on PostgreSQL in the restart test below

eachDb(maybe, 'a master killed (kill -9) with a non-empty upload queue pushes the rest after its restart', async (start, db) => {
  const repo = join(tmp, `kill-${db.name}`)
  makeFlakeRepo(repo, { checks: { one: {}, two: { deps: ['one'], script: 'echo $deps > $out' } }, salt: `kill-${process.pid}-${Date.now()}-${db.name}` })
  const basedir = mkdtempSync(join(tmp, `kill-master-${db.name}-`))
  const store = join(tmp, `kill-store-${db.name}`)
  const tools = installStandIns(join(tmp, `kill-tools-${db.name}`), { cachix: { store: `file://${store}`, token: 'kill-token', cache: 'kill', hang: true } })
  tools.hang()
  const tokenFile = secretFile(`kill-token-${db.name}`, 'kill-token')
  const cache = { name: 'kill', auth: { authToken: { file: tokenFile } }, executable: tools.path('cachix') }
  const dbUrl = await db.url(basedir)
  const masterName = `caches-kill:${basedir}`
  writeFileSync(join(basedir, 'package.json'), '{"type":"module"}')
  const configFile = join(basedir, 'master.config.ts')
  writeFileSync(configFile, `import { defineMaster, localWorker } from ${JSON.stringify(join(root, 'core/index.ts'))}
import { nix } from ${JSON.stringify(join(root, 'plugins/nix/index.ts'))}
import { binaryCaches } from ${JSON.stringify(join(root, 'plugins/cachix/index.ts'))}
export default defineMaster({
  basedir: ${JSON.stringify(basedir)}, db: ${JSON.stringify(dbUrl)}, masterName: ${JSON.stringify(masterName)}, logLevel: 'error', www: { port: 0 },
  workers: [localWorker({ name: 'local', maxBuilds: 4 })],
  plugins: [nix({ projects: [{ name: 'acme/kill', url: ${JSON.stringify(repo)} }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1 }),
    binaryCaches({ cachix: ${JSON.stringify(cache)}, batchSize: 1, maxWait: 0.5 })],
})
`)
  const child = startChildMaster(configFile, { builder: 'acme/kill/nix-eval', count: 1 })
  let queuedBefore: { path: string; state: string }[] = []
  try {
    await child.ready
    // Both attributes are built and queued; the first push hangs, the rest waits behind it.
    const probe = await connectDb(dbUrl)
    const deadline = Date.now() + 180_000
    for (;;) {
      queuedBefore = await probe.k.selectFrom('binary_caches_queue' as never).select(['path', 'state'] as never).execute() as { path: string; state: string }[]
      if (queuedBefore.length >= 2 && tools.calls().length >= 1) break
      if (Date.now() > deadline) throw new Error(`the killed master never queued the closures: ${JSON.stringify(queuedBefore)}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    await probe.close()
  } finally {
    await child.kill()
  }
  assert.ok(queuedBefore.some((r) => r.state === 'pushing') && queuedBefore.some((r) => r.state === 'queued'), JSON.stringify(queuedBefore))
  assert.equal(await validIn(`file://${store}`, queuedBefore.map((r) => r.path)), [], 'nothing arrived before the kill')
  tools.release()
  // The restarted master builds nothing (no project): only its queue can push.
  const h = await start({
    masterName, workers: [localWorker({ name: 'local', maxBuilds: 4 })],
    plugins: [nix({ projects: [], workers: ['local'], buildSystems: ['x86_64-linux'] }), binaryCaches({ cachix: cache, batchSize: 1 })],
  }, { basedir, dbUrl })
  await h.until(async () => {
    const rows = await h.master.data.db.k.selectFrom('binary_caches_queue' as never).select('state' as never).execute() as { state: string }[]
    return rows.length === queuedBefore.length && rows.every((r) => r.state === 'pushed')
  }, 'every queued path pushed', 120_000)
  const paths = queuedBefore.map((r) => r.path).sort()
  assert.equal(await validIn(`file://${store}`, paths), paths)
  for (const c of tools.calls()) assert.equal(c.problems, [])
}, dbs)

test.run()
