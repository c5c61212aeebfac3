import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { startMaster, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { nixHooks } from '../support/nix-hooks.ts'
import { ESCAPES, makeEffectsRepo } from '../fixtures/nix/effects-flake.ts'
import { FAILURE, SKIPPED, SUCCESS, localWorker, secret, secretsFromObject, type MasterConfig, type StatusUpdate } from '../../core/index.ts'
import { NixKey, nix, type NixApi, type NixEffectsEvent } from '../../plugins/nix/index.ts'
import { effects } from '../../plugins/effects/index.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const hasBwrap = haveTool('bwrap', 'apt-get install -y bubblewrap')
const maybe = hasNix && hasBwrap ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'effects-flow-'))
const HOOK_SECRET = 'base-hook-secret-e1f2'
const SECRET = 'deploy-key-77c1d9e0b3'
const OTHER = 'other-key-0a9b8c7d6e'

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' }).trim()

function config(repo: string, secretsFile: string): MasterConfig {
  return {
    workers: [localWorker({ name: 'local', maxBuilds: 8 })],
    secretsProviders: [secretsFromObject({ 'change-hook': HOOK_SECRET })],
    www: { changeHooks: { base: { secret: secret('change-hook') } } },
    plugins: [
      nix({ projects: [{ name: 'acme/fx', url: repo }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1 }),
      effects({ perRepoSecretFiles: { 'git:acme/*': secretsFile } }),
    ],
  }
}

interface EffectBuild { buildid: number; results: number | null; effect: string; log: string }

/** The effect builds an evaluation build triggered, with their logs. */
async function effectBuilds(h: MasterHarness, evalBuildid: number): Promise<EffectBuild[]> {
  const k = h.master.data.db.k
  const builder = h.builderId('acme/fx/nix-effects')
  const rows = await k.selectFrom('builds').innerJoin('buildrequests', 'buildrequests.buildrequestid', 'builds.buildrequestid').innerJoin('buildsets', 'buildsets.bsid', 'buildrequests.buildsetid')
    .select(['builds.buildid', 'builds.results']).where('buildsets.parent_buildid', '=', evalBuildid).where('builds.builderid', '=', builder).execute()
  const out: EffectBuild[] = []
  for (const r of rows) {
    const props = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/builds/${r.buildid}/properties`)).json() as { properties: Record<string, [unknown, string]>[] }
    const step = await k.selectFrom('steps').select('stepid').where('buildid', '=', r.buildid).where('name', '=', 'run_effect').executeTakeFirstOrThrow()
    const log = await k.selectFrom('logs').select('logid').where('stepid', '=', step.stepid).where('name', '=', 'stdio').executeTakeFirstOrThrow()
    const body = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/logs/${log.logid}/contents`)).json() as { logchunks: { content: string }[] }
    out.push({ buildid: r.buildid, results: r.results, effect: String(props.properties[0]!.effect![0]), log: body.logchunks.map((c) => c.content).join('') })
  }
  return out.sort((a, b) => a.effect.localeCompare(b.effect))
}

async function stepOf(h: MasterHarness, buildid: number, name: string) {
  return h.master.data.db.k.selectFrom('steps').select(['results', 'state_string']).where('buildid', '=', buildid).where('name', '=', name).executeTakeFirst()
}

/** Sends an untrusted pull request through the base hook and waits for its evaluation build. */
async function pullRequest(h: MasterHarness, repo: string, n: number, base: string, head: string): Promise<{ buildid: number; results: number }> {
  const evalBuilder = h.builderId('acme/fx/nix-eval')
  const done = h.waitFor<{ buildid: number; builderid: number; results: number }>('builds/*/finished', (m) => m.builderid === evalBuilder, 120_000)
  const r = await fetch(`http://127.0.0.1:${h.master.ports.www}/change_hook/base`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${HOOK_SECRET}` },
    body: JSON.stringify({ author: 'outsider', branch: `refs/pull/${n}/merge`, repository: repo, project: 'acme/fx', category: 'pull', properties: { base_sha: base, head_sha: head, event: 'pull_request' } }),
  })
  assert.is(r.status, 200, await r.text())
  return done
}

maybe('effects: run after a successful matrix on the default branch, each its own build, sandboxed, with their secrets; scheduled effects become nightly schedulers; an untrusted pull request runs none, then none with secrets', async () => {
  const hostDir = join(tmp, 'host-dir')
  mkdirSync(hostDir)
  const hostFile = join(tmp, 'host.txt')
  writeFileSync(hostFile, 'host\n')
  const secretsFile = join(tmp, 'secrets.json')
  writeFileSync(secretsFile, JSON.stringify({
    deploy: { kind: 'Secret', data: { token: SECRET }, condition: 'isDefaultBranch' },
    other: { kind: 'Secret', data: { token: OTHER } },
  }))
  const repo = join(tmp, 'repo')
  const base = makeEffectsRepo(repo, { hostDir, hostFile, secretsFile, stateDir: tmp, schedules: true })
  const [db] = testDatabases()
  const basedir = mkdtempSync(join(tmp, 'master-'))
  const h = await startMaster(db!, config(repo, secretsFile), { basedir })
  try {
    const statuses: StatusUpdate[] = []
    const api = h.master.config.services.get(NixKey.id) as NixApi
    const stop = api.reportStatuses({ report: async (u) => { statuses.push(u) } })

    // The default branch: effects run after the matrix, one build each.
    const effectEvents: NixEffectsEvent[] = []
    nixHooks(h).effects.tap((e) => { effectEvents.push(e) })
    const { bsid } = await h.force('acme-fx-force')
    assert.is(await h.waitBuildset(bsid, 120_000), FAILURE, 'a failing effect fails the evaluation build')
    const evalBuild = (await h.master.data.db.k.selectFrom('builds').select('buildid').where('builderid', '=', h.builderId('acme/fx/nix-eval')).orderBy('buildid', 'desc').executeTakeFirstOrThrow()).buildid
    assert.is((await stepOf(h, evalBuild, 'effects'))?.results, FAILURE)
    assert.equal(effectEvents.map((e) => e.phase), ['started', 'finished'])
    const ev = effectEvents[1]!
    assert.is(ev.results, FAILURE)
    assert.equal(ev.effects!.map((e) => [e.name, e.results]), [['deploy', SUCCESS], ['escape', SUCCESS], ['fails', FAILURE]])
    const builds = await effectBuilds(h, evalBuild)
    assert.equal(builds.map((b) => [b.effect, b.results]), [['deploy', SUCCESS], ['escape', SUCCESS], ['fails', FAILURE]])
    const [deploy, escape, fails] = builds as [EffectBuild, EffectBuild, EffectBuild]
    assert.match(deploy.log, 'deploying git/acme/fx rev ')
    assert.match(deploy.log, 'branch main')
    assert.match(deploy.log, 'build file: written')
    assert.match(deploy.log, '"token":{"data":{"token":"<secret>"}}', 'the effect read its secret; the log hides it')
    assert.not.match(deploy.log, SECRET)
    assert.not.match(deploy.log, OTHER)
    const tried = escape.log.split('\n').filter((l) => l.startsWith('ESCAPE '))
    console.log(`escape attempts tried by an effect of the master:\n${tried.map((l) => `  ${l}`).join('\n')}`)
    for (const name of ESCAPES) assert.ok(tried.includes(`ESCAPE ${name}: blocked`), `${name}: ${escape.log}`)
    assert.equal(readdirSync(hostDir), [])
    assert.match(fails.log, 'about to fail')
    assert.match(fails.log, 'the effect exited with 3')
    const effectsStatus = statuses.filter((s) => s.context === 'buildbot/nix-effects').map((s) => s.state)
    assert.equal(effectsStatus, ['pending', 'failure'], 'the nix-effects status fails with an effect')

    // The default branch's schedules are the project's nightly schedulers.
    const names = await h.until(async () => {
      const r = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/schedulers`)).json() as { schedulers: { name: string }[] }
      const n = r.schedulers.map((s) => s.name).filter((x) => x.includes('nix-effects-scheduled')).sort()
      return n.length === 3 ? n : undefined
    }, 'the scheduled effects as schedulers', 30_000)
    assert.equal(names, ['acme/fx/nix-effects-scheduled-nightly-update', 'acme/fx/nix-effects-scheduled-weekly-report', 'acme/fx/nix-effects-scheduled-weekly-update'])

    // A scheduled effect's build (what its nightly scheduler adds) checks out the default branch and runs it.
    const scheduled = await h.addBuildset(['acme/fx/nix-effects'], { properties: { schedule: 'weekly', effect: 'report' }, branch: 'main', repository: repo, reason: 'The Nightly scheduler' })
    assert.is(await h.waitBuildset(scheduled.bsid, 120_000), SUCCESS)
    const sb = await h.master.data.db.k.selectFrom('builds').select('buildid').where('buildrequestid', '=', Object.values(scheduled.brids)[0]!).executeTakeFirstOrThrow()
    const sstep = await h.master.data.db.k.selectFrom('steps').select('stepid').where('buildid', '=', sb.buildid).where('name', '=', 'run_effect').executeTakeFirstOrThrow()
    const slog = await h.master.data.db.k.selectFrom('logs').select('logid').where('stepid', '=', sstep.stepid).executeTakeFirstOrThrow()
    const stext = ((await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/logs/${slog.logid}/contents`)).json()) as { logchunks: { content: string }[] }).logchunks.map((c) => c.content).join('')
    assert.match(stext, 'effect report:')
    assert.match(stext, /\nreport\n/)

    // A pull request nobody vouched for, and the default branch's buildbot-nix.toml does not allow effects on pull requests.
    git(repo, 'checkout', '-q', '-b', 'feature')
    writeFileSync(join(repo, 'x.txt'), 'x\n'); git(repo, 'add', 'x.txt'); git(repo, 'commit', '-q', '-m', 'pr')
    const head = git(repo, 'rev-parse', 'HEAD')
    git(repo, 'checkout', '-q', 'main')
    const pr = await pullRequest(h, repo, 1, base, head)
    assert.is(pr.results, SUCCESS)
    assert.equal(await effectBuilds(h, pr.buildid), [], 'no effect runs')
    const step = await stepOf(h, pr.buildid, 'effects')
    assert.is(step?.results, SKIPPED)

    // The default branch now allows effects on pull requests: the untrusted one runs them without any secret.
    writeFileSync(join(repo, 'buildbot-nix.toml'), 'effects_on_pull_requests = true\n'); git(repo, 'add', '-A'); git(repo, 'commit', '-q', '-m', 'allow')
    const base2 = git(repo, 'rev-parse', 'HEAD')
    const pr2 = await pullRequest(h, repo, 2, base2, head)
    const b2 = await effectBuilds(h, pr2.buildid)
    assert.equal(b2.map((b) => [b.effect, b.results]), [['deploy', FAILURE], ['escape', FAILURE], ['fails', FAILURE]])
    for (const b of b2.slice(0, 2)) {
      assert.match(b.log, "secret 'deploy' (as 'token') is withheld: this build is untrusted")
      assert.not.match(b.log, SECRET)
      assert.not.match(b.log, 'deploying')
    }
    stop()

    // A restarted master has the scheduled effects' schedulers at once (no evaluation needed).
    await h.stop()
    const h2 = await startMaster(db!, config(repo, secretsFile), { basedir, dbUrl: h.dbUrl })
    try {
      const masters = await (await fetch(`http://127.0.0.1:${h2.master.ports.www}/api/v2/masters`)).json() as { masters: { masterid: number; active: boolean }[] }
      const running = masters.masters.filter((m) => m.active).map((m) => m.masterid)
      assert.is(running.length, 1)
      const r = await (await fetch(`http://127.0.0.1:${h2.master.ports.www}/api/v2/schedulers`)).json() as { schedulers: { name: string; master: { masterid: number } | null }[] }
      assert.equal(r.schedulers.filter((x) => x.name.includes('nix-effects-scheduled') && x.master?.masterid === running[0]).map((x) => x.name).sort(), names)
    } finally {
      await h2.stop()
    }
  } finally {
    await h.stop()
    await db!.cleanup()
  }
})

test.run()
