import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eachDb } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { definePlugin, worker, type MasterConfig } from '../../core/index.ts'
import { nix, NixKey, type NixApi, type NixEvalInfo } from '../../plugins/nix/index.ts'
import { github, type GitHubPluginOptions } from '../../plugins/github/index.ts'
import { githubFixture } from './fixture.ts'

/** Hands the test the Nix plugin's API, to start evaluations' statuses without nix. */
const handle = definePlugin<{ got: { nix?: NixApi } }>({ name: 'handle', requires: [NixKey], setup(api, { got }) { got.nix = api.use(NixKey) } })

const SHA = (n: number) => n.toString(16).padStart(40, 'b')
const info = (n: number): NixEvalInfo => ({
  project: 'acme/app', repository: '/srv/git/acme/app', buildid: n, url: `http://ci/#/builders/1/builds/${n}`, branch: 'main',
  revision: SHA(n), isDefaultBranch: true, isPullRequest: false, trusted: true,
})

eachDb(test, 'GitHub unreachable at start, 5xx, rate limits, revoked tokens and a missing permission: the master runs and no status is lost', async (start, db) => {
  const { gh, options } = await githubFixture()
  gh.addRepo({ owner: 'acme', ownerType: 'Organization', name: 'app', cloneUrl: '/srv/git/acme/app', topics: ['build-with-buildbot'], installationId: 41 })
  const got: { nix?: NixApi } = {}
  const config = (o: GitHubPluginOptions): MasterConfig => ({
    workers: [worker({ name: 'absent', password: 'never-used-pw' })],
    plugins: [nix({ projects: [], workers: ['absent'] }), github(o), handle({ got })],
  })
  const basedir = mkdtempSync(join(tmpdir(), 'github-resilience-'))
  const dbUrl = await db.url(basedir)
  try {
    const first = await start(config(options({ createWebhooks: false })), { basedir, dbUrl })
    await first.until(async () => (await first.master.projects.get('acme/app')) != null, 'discovered')
    await first.stop()

    // A reboot without GitHub: the master starts with the projects it knew and keeps retrying.
    gh.state.down = true
    const downFrom = gh.requests.length
    const h = await start(config(options({ createWebhooks: false })), { basedir, dbUrl })
    assert.ok(await h.master.projects.get('acme/app'), 'the known project stays registered')
    await h.until(() => h.master.brd.builder('acme/app/nix-eval'), 'and is built')
    await h.until(() => gh.requests.slice(downFrom).filter((r) => r.status === 503).length >= 2, 'discovery tried more than once')
    gh.state.down = false
    await h.until(() => gh.requests.slice(downFrom).some((r) => r.operationId === 'apps/list-repos-accessible-to-installation' && r.status === 200), 'discovery works again')
    assert.ok(await h.master.projects.get('acme/app'))

    const nixApi = got.nix!
    const delivered = (n: number) => gh.statusesOf(SHA(n)).get('buildbot/nix-build')?.state === 'pending'
    // GitHub answers 502 twice: the outbox retries.
    gh.inject((r) => r.path.endsWith(`/statuses/${SHA(1)}`), { status: 502 }, { status: 502 })
    await nixApi.hooks.evalStarted.call(info(1))
    await h.until(() => delivered(1), 'statuses sent after two 502s')

    // A secondary rate limit with Retry-After: paused, then sent.
    gh.inject((r) => r.path.endsWith(`/statuses/${SHA(2)}`), { status: 403, headers: { 'retry-after': '1' }, body: { message: 'You have exceeded a secondary rate limit.', documentation_url: 'https://docs.github.com/rest' } })
    await nixApi.hooks.evalStarted.call(info(2))
    await h.until(() => delivered(2), 'statuses sent after the secondary rate limit')

    // Revoked installation tokens: a 401, a new token, the status goes out.
    const tokensBefore = gh.requests.filter((r) => r.operationId === 'apps/create-installation-access-token').length
    gh.revokeTokens()
    await nixApi.hooks.evalStarted.call(info(3))
    await h.until(() => delivered(3), 'statuses sent with a fresh token')
    assert.ok(gh.requests.filter((r) => r.operationId === 'apps/create-installation-access-token').length > tokensBefore)
    assert.ok(gh.requests.some((r) => r.operationId === 'repos/create-commit-status' && r.status === 401))

    // A missing permission: given up at once, with the permission to grant.
    gh.inject((r) => r.path.endsWith(`/statuses/${SHA(4)}`), ...Array.from({ length: 4 }, () => ({ status: 403, body: { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest' } })))
    await nixApi.hooks.evalStarted.call(info(4))
    const failed = await h.until(async () => (await h.master.data.statuses.list('github-statuses')).find((s) => s.revision === SHA(4) && s.failed), 'the refused status is given up')
    assert.match(String(failed.lastError), /Commit statuses: Read and write/)

    assert.equal(gh.violations, [])
  } finally {
    await gh.close()
  }
}, testDatabases().slice(0, 1))

test.run()
