import { test } from 'uvu'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { eachDb } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { worker, type MasterConfig } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import { github, type GitHubPluginOptions } from '../../plugins/github/index.ts'
import { changes, githubFixture, hookUrl, WEBHOOK_SECRET } from './fixture.ts'
import { deliver, example, pullRequestPayload, pushPayload } from './webhook-deliveries.ts'

const SHA = (n: number) => n.toString(16).padStart(40, 'a')

// Builds wait for a worker that never connects: these tests are about what reaches the database.
const config = (o: GitHubPluginOptions): MasterConfig => ({
  workers: [worker({ name: 'absent', password: 'never-used-pw' })],
  plugins: [nix({ projects: [], workers: ['absent'] }), github(o)],
})

eachDb(test, 'discovery, webhook creation and /change_hook/github against a stand-in checked by the REST description', async (start) => {
  const { gh, options } = await githubFixture()
  try {
    gh.addRepo({ owner: 'acme', ownerType: 'Organization', name: 'app', cloneUrl: '/srv/git/acme/app', topics: ['build-with-buildbot'], installationId: 11 })
    gh.addRepo({ owner: 'acme', ownerType: 'Organization', name: 'other', cloneUrl: '/srv/git/acme/other', topics: [], installationId: 11 })
    gh.addRepo({ owner: 'bob', name: 'tool', cloneUrl: '/srv/git/bob/tool', topics: ['build-with-buildbot'], defaultBranch: 'trunk', private: true, installationId: 12 })
    gh.addMember('acme', 'alice')
    gh.addCollaborator('bob/tool', 'carol')
    const h = await start(config(options()))
    const url = hookUrl(h)

    // Discovery: the App's installations and repositories with the topic become projects.
    await h.until(async () => (await h.master.projects.list()).length === 2, 'two projects discovered')
    const projects = await h.master.projects.list()
    assert.equal(projects.map((p) => p.name).sort(), ['acme/app', 'bob/tool'])
    const tool = projects.find((p) => p.name === 'bob/tool')!
    assert.equal([tool.forge, tool.clone_url, tool.default_branch, tool.private, tool.owner, tool.web_url], ['github', '/srv/git/bob/tool', 'trunk', true, 'bob', 'https://github.com/bob/tool'])
    // The Nix plugin gives a registered project its builders and schedulers right after.
    await h.until(() => h.master.brd.builder('acme/app/nix-eval') && h.master.schedulers.get('acme-app-primary') && h.master.schedulers.get('bob-tool-prs'), 'the Nix plugin builds the discovered projects')

    // The repository webhooks are created once, pointing at our change hook with the secret.
    await h.until(() => gh.hooks.get('acme/app')?.length && gh.hooks.get('bob/tool')?.length, 'webhooks created')
    const hook = gh.hooks.get('acme/app')![0]!
    assert.is(hook.config.url, `${h.master.config.buildbotURL}change_hook/github`)
    assert.equal([hook.events, hook.config.content_type, hook.secret], [['push', 'pull_request'], 'json', WEBHOOK_SECRET])
    assert.not.ok(gh.hooks.has('acme/other'))

    // Signatures: missing 401, wrong 403, nothing stored.
    const push = pushPayload({ repo: 'acme/app', after: SHA(1), installationId: 11 })
    assert.is((await deliver(url, 'push', push, { signature: null })).status, 401)
    assert.is((await deliver(url, 'push', push, { secret: 'not-the-secret' })).status, 403)
    assert.is((await deliver(url, 'push', push, { signature: 'sha256=zz' })).status, 403)
    assert.is((await deliver(url, 'push', null, { secret: WEBHOOK_SECRET, body: '{"ref": ' })).status, 400, 'malformed JSON')
    assert.is((await changes(h)).length, 0)

    assert.equal(await deliver(url, 'ping', example('ping'), { secret: WEBHOOK_SECRET }), { status: 200, text: 'pong' })
    assert.equal(await deliver(url, 'star', { action: 'created' }, { secret: WEBHOOK_SECRET }), { status: 200, text: "no change: 'star' events are not used" })

    // A push to a branch: one change; the same delivery again stores nothing.
    const first = await deliver(url, 'push', push, { secret: WEBHOOK_SECRET, id: 'delivery-1' })
    assert.equal(first, { status: 200, text: '1 change found' })
    assert.match((await deliver(url, 'push', push, { secret: WEBHOOK_SECRET, id: 'delivery-1' })).text, /handled before/)
    let all = await changes(h)
    assert.is(all.length, 1)
    assert.equal([all[0]!.repository, all[0]!.branch, all[0]!.revision, all[0]!.project, all[0]!.category], ['/srv/git/acme/app', 'main', SHA(1), 'acme/app', 'push'])

    // Ignored: branch deletions, tags, [skip ci], repositories not built here.
    assert.match((await deliver(url, 'push', pushPayload({ repo: 'acme/app', after: '0'.repeat(40), deleted: true }), { secret: WEBHOOK_SECRET })).text, /deleted/)
    assert.match((await deliver(url, 'push', pushPayload({ repo: 'acme/app', ref: 'refs/tags/v1', after: SHA(2) }), { secret: WEBHOOK_SECRET })).text, /is a tag/)
    assert.match((await deliver(url, 'push', pushPayload({ repo: 'acme/app', after: SHA(3), message: 'docs [skip ci]' }), { secret: WEBHOOK_SECRET })).text, /skip ci/)
    assert.match((await deliver(url, 'push', pushPayload({ repo: 'acme/other', after: SHA(4) }), { secret: WEBHOOK_SECRET })).text, /not built here/)
    assert.is((await changes(h)).length, 1)

    // Pull requests: base and head; trusted from the same repository, a member, a collaborator.
    const pr = (n: number, author: string, repo = 'acme/app', headRepo: string | null = `${author}/fork`, action = 'opened') =>
      deliver(url, 'pull_request', pullRequestPayload({ action, repo, number: n, author, ownerType: repo.startsWith('acme') ? 'Organization' : 'User', base: { ref: 'main', sha: SHA(10) }, head: { ref: 'feature', sha: SHA(100 + n), repo: headRepo } }), { secret: WEBHOOK_SECRET })
    for (const [n, author, repo, headRepo] of [[1, 'mallory', 'acme/app', 'mallory/fork'], [2, 'alice', 'acme/app', 'alice/fork'], [3, 'carol', 'bob/tool', 'carol/tool'], [4, 'dave', 'acme/app', 'acme/app'], [5, 'mallory', 'bob/tool', null]] as const) {
      assert.equal(await pr(n, author, repo, headRepo), { status: 200, text: '1 change found' }, `pull request ${n}`)
    }
    assert.match((await pr(1, 'mallory', 'acme/app', 'mallory/fork', 'edited')).text, /no change: pull request edited/)
    all = await changes(h)
    const prs = all.filter((c) => c.category === 'pull')
    assert.equal(prs.map((c) => [c.branch, c.trusted]), [
      ['refs/pull/1/head', false], ['refs/pull/2/head', true], ['refs/pull/3/head', true], ['refs/pull/4/head', true], ['refs/pull/5/head', false],
    ])
    const p1 = prs[0]!
    assert.equal([p1.revision, p1.properties.base_sha?.[0], p1.properties.head_sha?.[0], p1.properties.pr_number?.[0], p1.properties.head_repository?.[0]], [SHA(101), SHA(10), SHA(101), 1, 'mallory/fork'])
    assert.match(String(p1.properties.trust?.[0]), /^untrusted: mallory is not a member or collaborator/)

    // Closing a pull request cancels what is still queued or running for it (here: its evaluation, waiting for a worker).
    await h.until(async () => (await h.master.data.db.k.selectFrom('buildrequests').select('buildrequestid').execute()).length >= 4, 'the pull requests were scheduled')
    assert.equal(await pr(1, 'mallory', 'acme/app', 'mallory/fork', 'closed'), { status: 200, text: 'no change: pull request closed (1 build cancelled)' })
    assert.equal(await pr(1, 'mallory', 'acme/app', 'mallory/fork', 'closed'), { status: 200, text: 'no change: pull request closed (0 builds cancelled)' })

    // Installation webhooks start a discovery: a repository added, another removed.
    gh.addRepo({ owner: 'acme', ownerType: 'Organization', name: 'new', cloneUrl: '/srv/git/acme/new', topics: ['build-with-buildbot'], installationId: 11 })
    gh.removeRepo('acme/app')
    assert.is((await deliver(url, 'installation_repositories', example('installation_repositories'), { secret: WEBHOOK_SECRET })).status, 200)
    await h.until(async () => (await h.master.projects.list()).map((p) => p.name).sort().join() === 'acme/new,bob/tool', 'acme/new added and acme/app removed')
    await h.until(() => !h.master.brd.builder('acme/app/nix-eval'), 'the removed project has no builders')
    await h.until(() => gh.hooks.get('acme/new')?.length, 'the new repository got its webhook')

    assert.equal(gh.violations, [], 'every request fitted GitHub\'s REST description')
    assert.ok(gh.requests.some((r) => r.operationId === 'apps/list-installations') && gh.requests.some((r) => r.operationId === 'apps/create-installation-access-token'))
  } finally {
    await gh.close()
  }
}, testDatabases())

eachDb(test, 'a delivery handled before a restart is a duplicate after it (delivery ids are stored)', async (start) => {
  const { gh, options } = await githubFixture()
  const basedir = mkdtempSync(join(tmpdir(), 'github-redelivery-'))
  try {
    gh.addRepo({ owner: 'acme', ownerType: 'Organization', name: 'app', cloneUrl: '/srv/git/acme/app', topics: ['build-with-buildbot'], installationId: 11 })
    const push = pushPayload({ repo: 'acme/app', after: SHA(1), installationId: 11 })
    const h = await start(config(options()), { basedir })
    await h.until(() => h.master.projects.get('acme/app'), 'acme/app discovered')
    assert.equal(await deliver(hookUrl(h), 'push', push, { secret: WEBHOOK_SECRET, id: 'before-restart' }), { status: 200, text: '1 change found' })
    await h.stop()

    const again = await start(config(options()), { basedir, dbUrl: h.dbUrl })
    await again.until(() => again.master.projects.get('acme/app'), 'acme/app known again')
    assert.equal(await deliver(hookUrl(again), 'push', push, { secret: WEBHOOK_SECRET, id: 'before-restart' }), { status: 200, text: 'no change: delivery before-restart was handled before' })
    assert.is((await changes(again)).length, 1, 'the redelivery stored nothing')
    assert.equal(await deliver(hookUrl(again), 'push', push, { secret: WEBHOOK_SECRET, id: 'after-restart' }), { status: 200, text: '1 change found' })
    assert.is((await changes(again)).length, 2)
  } finally {
    await gh.close()
    rmSync(basedir, { recursive: true, force: true })
  }
}, testDatabases())

test.run()
