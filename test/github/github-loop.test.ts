import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { definePlugin, isSecretWithheld, localWorker, secretsFromObject, steps, SUCCESS } from '../../core/index.ts'
import { nix, NixKey } from '../../plugins/nix/index.ts'
import { github } from '../../plugins/github/index.ts'
import { githubFixture, hookUrl, WEBHOOK_SECRET } from './fixture.ts'
import { deliver, example, pullRequestPayload, pushPayload } from './webhook-deliveries.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'github-loop-'))

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' }).trim()

/** What a post-build step saw when it asked for the cache secret, per attribute and branch. */
type SecretSeen = { attr: string; trusted: boolean; got: 'value' | 'withheld' }

/** A plugin whose post-build step asks for a secret, as a cache push does. */
const probe = definePlugin<{ seen: SecretSeen[] }>({
  name: 'probe',
  requires: [NixKey],
  setup(api, { seen }) {
    api.use(NixKey).addPostBuildStep(steps.custom({
      name: 'push to cache', async run(ctx) {
        try {
          const v = await ctx.secret('cache-token')
          seen.push({ attr: String(ctx.getProperty('attr')), trusted: ctx.build.trusted, got: v === 'cache-secret-value' ? 'value' : 'withheld' })
        } catch (err) {
          if (!isSecretWithheld(err)) throw err
          seen.push({ attr: String(ctx.getProperty('attr')), trusted: ctx.build.trusted, got: 'withheld' })
        }
        return SUCCESS
      },
    }), { alsoForSkipped: true })
  },
})

interface Finished { buildid: number; builderid: number; buildrequestid: number; results: number }

eachDb(maybe, 'signed push -> evaluation -> matrix -> statuses on the stand-in; a fork pull request by an outsider builds without secrets', async (start) => {
  const repo = join(tmp, 'app')
  makeFlakeRepo(repo, { checks: { good: {}, broken: { script: 'echo broken >&2; exit 1' } } })
  const pushed = git(repo, 'rev-parse', 'HEAD')
  // The outsider's fork commit, reachable in the base repository as GitHub keeps it (refs/pull/7/head).
  git(repo, 'checkout', '-q', '-b', 'fork-feature')
  writeFileSync(join(repo, 'README'), 'from a fork\n'); git(repo, 'add', 'README'); git(repo, 'commit', '-q', '-m', 'fork change')
  const forkHead = git(repo, 'rev-parse', 'HEAD')
  git(repo, 'update-ref', 'refs/pull/7/head', forkHead)
  git(repo, 'checkout', '-q', 'main')
  git(repo, 'branch', '-q', '-D', 'fork-feature')

  const { gh, options } = await githubFixture()
  const seen: SecretSeen[] = []
  try {
    gh.addRepo({ owner: 'acme', ownerType: 'Organization', name: 'app', cloneUrl: repo, topics: ['build-with-buildbot'], installationId: 21 })
    const h: MasterHarness = await start({
      workers: [localWorker({ name: 'local', maxBuilds: 8 })],
      secretsProviders: [secretsFromObject({ 'cache-token': 'cache-secret-value' })],
      plugins: [
        nix({ projects: [], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1 }),
        github(options({ checks: true })),
        probe({ seen }),
      ],
    })
    // Delivered as soon as the project is discovered, not waiting for its schedulers: a change
    // that comes before them is built once they start.
    await h.until(() => h.master.projects.get('acme/app'), 'acme/app discovered')
    const url = hookUrl(h)

    // A signed push to the default branch.
    const evaluated = h.waitFor<Finished>('builds/*/finished', (m) => m.builderid === h.master.brd.builder('acme/app/nix-eval')?.builderid, 120_000)
    assert.equal(await deliver(url, 'push', pushPayload({ repo: 'acme/app', after: pushed, installationId: 21 }), { secret: WEBHOOK_SECRET }), { status: 200, text: '1 change found' })
    const ev = await evaluated
    const evalBuilder = h.builderId('acme/app/nix-eval')
    assert.is((await h.master.data.db.k.selectFrom('buildsets').select('bsid').where('scheduler', '=', 'acme-app-primary').execute()).length, 1, 'the push is built once')
    await h.until(() => gh.statusesOf(pushed).get('buildbot/nix-build')?.state === 'failure', 'the combined status is final', 60_000)

    const all = gh.statuses.filter((s) => s.sha === pushed).map((s) => s.body)
    assert.is(all[0]!.context, 'buildbot/nix-eval')
    assert.is(all[0]!.state, 'pending', 'statuses appear when the evaluation starts')
    const last = gh.statusesOf(pushed)
    assert.is(last.get('buildbot/nix-eval')!.state, 'success')
    assert.match(last.get('buildbot/nix-eval')!.description, /Evaluated 2 attributes/)
    assert.is(last.get('buildbot/nix-build')!.state, 'failure')
    const failed = [...last.keys()].filter((c) => c.startsWith('buildbot/nix-build/'))
    assert.is(failed.length, 1, `one failed attribute: ${failed.join(', ')}`)
    assert.match(failed[0]!, /broken/)
    assert.is(last.get(failed[0]!)!.state, 'failure')
    assert.ok(![...last.keys()].some((c) => /nix-build\/.*good/.test(c)), 'passing attributes get no status of their own')
    const base = h.master.config.buildbotURL
    assert.ok(String(last.get('buildbot/nix-eval')!.target_url).startsWith(`${base}#/builders/${evalBuilder}/builds/`), String(last.get('buildbot/nix-eval')!.target_url))
    assert.ok(String(last.get(failed[0]!)!.target_url).startsWith(`${base}#/builders/`))
    assert.not.equal(last.get(failed[0]!)!.target_url, last.get('buildbot/nix-eval')!.target_url, 'a failed attribute links to its own build')
    assert.ok(ev.buildid > 0)
    assert.ok(seen.some((s) => /good/.test(s.attr) && s.trusted && s.got === 'value'), 'a push to the default branch builds trusted and gets the secret')

    // checks: true: one check run for the evaluation, completed with the summary and a rebuild button.
    await h.until(() => [...gh.checkRuns.values()].some((r) => r.body.head_sha === pushed && r.body.status === 'completed'), 'the check run is completed')
    const check = [...gh.checkRuns.entries()].find(([, r]) => r.body.head_sha === pushed)!
    assert.equal([check[1].body.name, check[1].body.conclusion, check[1].body.external_id], ['buildbot-nix', 'failure', String(ev.buildid)])
    assert.match(check[1].body.output.summary, /newly failing against the default branch \(1\) \| `[^`]*broken`/)
    assert.equal(check[1].body.actions.map((a: { identifier: string }) => a.identifier), ['rebuild-failed'])
    // Its "Rebuild failed" button evaluates the same commit again.
    const again = h.waitFor<Finished>('builds/*/finished', (m) => m.builderid === evalBuilder && m.buildid !== ev.buildid, 120_000)
    const action = example('check_run', (x) => x.action === 'requested_action')
    delete action.installation
    action.check_run = { ...action.check_run, id: check[0], name: 'buildbot-nix', head_sha: pushed, external_id: String(ev.buildid), app: { ...action.check_run.app, id: gh.appId } }
    action.requested_action = { identifier: 'rebuild-failed' }
    action.repository = { ...action.repository, full_name: 'acme/app', name: 'app' }
    assert.equal(await deliver(url, 'check_run', action, { secret: WEBHOOK_SECRET }), { status: 200, text: 'evaluating acme/app again' })
    const rerun = await again
    const rerunSs = (await h.master.data.buildsets.getBuildset((await h.master.data.buildrequests.load([rerun.buildrequestid]))[0]!.buildsetid))!
    assert.equal([rerunSs.sourcestamps[0]!.revision, rerunSs.trusted], [pushed, true])

    // A pull request from a fork by someone who is neither member nor collaborator.
    const prEval = h.waitFor<Finished>('builds/*/finished', (m) => m.builderid === evalBuilder, 120_000)
    const before = seen.length
    const res = await deliver(url, 'pull_request', pullRequestPayload({
      action: 'opened', repo: 'acme/app', number: 7, author: 'mallory', ownerType: 'Organization', installationId: 21,
      base: { ref: 'main', sha: pushed }, head: { ref: 'feature', sha: forkHead, repo: 'mallory/app' },
    }), { secret: WEBHOOK_SECRET })
    assert.equal(res, { status: 200, text: '1 change found' })
    const pe = await prEval
    const br = (await h.master.data.buildrequests.load([pe.buildrequestid]))[0]!
    assert.is((await h.master.data.buildsets.getBuildset(br.buildsetid))!.trusted, false)
    await h.until(() => gh.statusesOf(forkHead).get('buildbot/nix-build')?.state === 'failure', 'the pull request statuses are final', 60_000)
    const prStatuses = gh.statusesOf(forkHead)
    assert.match(prStatuses.get('buildbot/nix-eval')!.description, /^Untrusted, no secrets: /)
    const prSeen = seen.slice(before)
    assert.ok(prSeen.length > 0, 'the post-build step ran in the pull request build')
    assert.ok(prSeen.every((s) => !s.trusted && s.got === 'withheld'), `the outsider's build got no secret: ${JSON.stringify(prSeen)}`)
    assert.ok(gh.requests.some((r) => r.operationId === 'orgs/check-membership-for-user' && r.status === 404), 'membership was asked')

    assert.equal(gh.violations, [])
  } finally {
    await gh.close()
  }
}, testDatabases().slice(0, 1))

test.run()
