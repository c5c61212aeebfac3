import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { createHmac, randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { eachDb, startMaster, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { startGiteaStandIn, type GiteaStandIn } from '../support/gitea-stand-in.ts'
import { localWorker, type MasterConfig } from '../../core/index.ts'
import { createLogger } from '../../core/util/logger.ts'
import { nix } from '../../plugins/nix/index.ts'
import { gitea } from '../../plugins/gitea/index.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'gitea-flow-'))
const TOKEN = 'gitea-token-5f0c9d2e7ab14c3e'
const HOOK_SECRET = 'gitea-hook-secret-91ad'
const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' }).trim()

/** A flake with one passing and one failing check, served as `acme/app.git`; a fork's commit under `refs/pull/1/head`. */
function serveRepo(root: string): { main: string; prHead: string } {
  const work = join(root, 'work')
  makeFlakeRepo(work, { checks: { ok: {}, broken: { script: 'echo broken; exit 1' } }, salt: randomUUID() })
  git(work, 'checkout', '-q', '-b', 'feature')
  writeFileSync(join(work, 'feature.txt'), 'x\n'); git(work, 'add', 'feature.txt'); git(work, 'commit', '-q', '-m', 'feature')
  const prHead = git(work, 'rev-parse', 'HEAD')
  git(work, 'checkout', '-q', 'main')
  mkdirSync(join(root, 'git', 'acme'), { recursive: true })
  const bare = join(root, 'git', 'acme', 'app.git')
  execFileSync('git', ['clone', '-q', '--bare', work, bare])
  git(bare, 'update-ref', 'refs/pull/1/head', prHead)
  git(bare, 'branch', '-D', 'feature')
  return { main: git(bare, 'rev-parse', 'main'), prHead }
}

function config(s: GiteaStandIn, dir: string): MasterConfig {
  writeFileSync(join(dir, 'token'), TOKEN + '\n')
  writeFileSync(join(dir, 'hook-secret'), HOOK_SECRET)
  return {
    workers: [localWorker({ name: 'local', maxBuilds: 8 })],
    plugins: [
      nix({ projects: [], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1 }),
      gitea({ instanceUrl: s.url, tokenFile: join(dir, 'token'), webhookSecretFile: join(dir, 'hook-secret'), webhookBaseUrl: 'https://ci.example.org/' }),
    ],
  }
}

/** Posts a webhook as Gitea does (signed with `secret`; `delivery` is the X-Gitea-Delivery id). */
function deliver(h: MasterHarness, event: string, payload: unknown, o: { secret?: string | null; delivery?: string } = {}): Promise<Response> {
  const body = JSON.stringify(payload)
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-gitea-event': event, 'x-gitea-delivery': o.delivery ?? randomUUID() }
  if (o.secret !== null) headers['x-gitea-signature'] = createHmac('sha256', o.secret ?? HOOK_SECRET).update(body).digest('hex')
  return fetch(`http://127.0.0.1:${h.master.ports.www}/change_hook/gitea`, { method: 'POST', headers, body })
}

const changeCount = async (h: MasterHarness) => Number((await h.master.data.db.k.selectFrom('changes').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)

eachDb(maybe, 'Gitea: discovery and webhooks, signed pushes and pull requests evaluated, statuses on the head, the token never shown', async (start, db) => {
  const dir = mkdtempSync(join(tmp, `${db.name}-`))
  const { main, prHead } = serveRepo(dir)
  const s = await startGiteaStandIn({
    token: TOKEN, gitRoot: join(dir, 'git'), orgs: { acme: ['alice'] },
    repos: [
      { owner: 'acme', name: 'app', topics: ['build-with-buildbot'] },
      { owner: 'acme', name: 'notopic', topics: [] },
      { owner: 'acme', name: 'noadmin', topics: ['build-with-buildbot'], admin: false },
    ],
  })
  try {
    const h = await start(config(s, dir))
    const app = await h.until(() => h.master.projects.get('acme/app'), 'acme/app discovered')
    assert.is(app.forge, 'gitea')
    assert.is(app.clone_url, `${s.url}/acme/app.git`, 'HTTPS clone URL without the token')
    assert.is(await h.master.projects.get('acme/notopic'), undefined, 'no topic: not built')
    assert.is(await h.master.projects.get('acme/noadmin'), undefined, 'no admin rights: not built')
    const hooks = s.repos[0]!.hooks ?? []
    assert.is(hooks.length, 1)
    assert.equal(hooks[0]!.events, ['push', 'pull_request'])
    assert.is(hooks[0]!.config.url, 'https://ci.example.org/change_hook/gitea')
    assert.is(hooks[0]!.config.secret, HOOK_SECRET)
    assert.is(s.repos[2]!.hooks, undefined, 'no webhook where the token may not administer')
    // A second discovery finds the webhook and creates none.
    await h.master.projects.reload()
    assert.is(s.repos[0]!.hooks!.length, 1)
    // Pushes are delivered without waiting for the project's schedulers: a change that comes
    // before them is built once they start.

    const repoJson = s.repoJson(s.repos[0]!)
    const user = { id: 2, login: 'alice', email: 'alice@example.org' }
    const push = {
      ref: 'refs/heads/main', before: '0'.repeat(40), after: main, compare_url: '', repository: repoJson, pusher: user, sender: user,
      commits: [], head_commit: { id: main, message: 'flake', url: `${s.url}/acme/app/commit/${main}`, author: { name: 'Alice', email: 'alice@example.org', username: 'alice' }, committer: { name: 'Alice', email: 'alice@example.org', username: 'alice' }, timestamp: '2024-01-01T00:00:00Z', added: ['flake.nix'], removed: [], modified: [] },
    }
    assert.equal(s.check('Repository', push.repository), [])
    assert.equal(s.check('PayloadCommit', push.head_commit), [])

    // Bad input stores nothing.
    const before = await changeCount(h)
    let r = await deliver(h, 'push', push, { secret: null })
    assert.is(r.status, 403, 'no signature')
    r = await deliver(h, 'push', push, { secret: 'wrong-secret' })
    assert.is(r.status, 403, 'wrong signature')
    assert.match(await r.text(), /signature/)
    r = await deliver(h, 'push', { ...push, repository: s.repoJson(s.repos[1]!) })
    assert.is(r.status, 404, 'a repository that is not a project')
    r = await deliver(h, 'push', '{not json')
    assert.is(r.status, 400)
    assert.is(await changeCount(h), before, 'nothing stored')

    // A push, delivered twice: one change, evaluated; statuses on the pushed commit.
    const evalBuilderId = () => h.master.brd.builder('acme/app/nix-eval')?.builderid
    const evaluated = h.waitFor<{ buildid: number; builderid: number }>('builds/*/finished', (m) => m.builderid === evalBuilderId(), 180_000)
    const delivery = randomUUID()
    r = await deliver(h, 'push', push, { delivery })
    assert.is(r.status, 200, await r.text())
    r = await deliver(h, 'push', push, { delivery })
    assert.is(await r.text(), 'delivery already handled')
    assert.is(await changeCount(h), before + 1, 'the same delivery twice is one change')
    await evaluated
    const evalBuilder = h.builderId('acme/app/nix-eval')
    assert.is((await h.master.data.db.k.selectFrom('buildsets').select('bsid').where('scheduler', '=', 'acme-app-primary').execute()).length, 1, 'the push is built once')
    const final = (sha: string, context: string) => s.statuses.filter((x) => x.sha === sha && x.context === context).at(-1)
    await h.until(() => final(main, 'buildbot/nix-build')?.state !== 'pending' && final(main, 'buildbot/nix-build'), 'the combined status', 180_000)
    assert.is(final(main, 'buildbot/nix-eval')?.state, 'success')
    assert.is(final(main, 'buildbot/nix-build')?.state, 'failure')
    assert.ok(s.statuses.some((x) => x.context.startsWith('buildbot/nix-build/') && x.context.includes('broken') && x.state === 'failure'), 'the failed attribute has its status')
    assert.ok(s.statuses.every((x) => x.owner === 'acme' && x.repo === 'app'))

    // Pull requests: an edited title builds nothing; a fork's new head is evaluated merged with its base, untrusted.
    const base = { ref: 'main', sha: main, repo: repoJson, repo_id: 1, label: 'main' }
    const forkRepo = { ...s.repoJson(s.repos[0]!), id: 9, full_name: 'mallory/app', owner: { id: 3, login: 'mallory' } }
    const pr = { number: 1, title: 'A feature', html_url: `${s.url}/acme/app/pulls/1`, user: { id: 3, login: 'mallory' }, head: { ref: 'feature', sha: prHead, repo: forkRepo, repo_id: 9, label: 'feature' }, base }
    assert.equal(s.check('PullRequest', pr), [])
    const n = await changeCount(h)
    r = await deliver(h, 'pull_request', { action: 'edited', number: 1, pull_request: pr, repository: repoJson, sender: pr.user })
    assert.is(r.status, 200)
    assert.is(await changeCount(h), n, 'an edited title adds no change')
    const prEvaluated = h.waitFor<{ buildid: number; builderid: number }>('builds/*/finished', (m) => m.builderid === evalBuilder, 180_000)
    r = await deliver(h, 'pull_request', { action: 'opened', number: 1, pull_request: pr, repository: repoJson, sender: pr.user })
    assert.is(r.status, 200, await r.text())
    const prBuild = await prEvaluated
    const last = await h.master.data.db.k.selectFrom('changes').select((e) => e.fn.max('changeid').as('id')).executeTakeFirstOrThrow()
    const change = (await h.master.data.changes.getChange(Number(last.id)))!
    assert.is(change.revision, prHead)
    assert.is(change.branch, 'refs/pull/1/head')
    assert.is(change.properties.base_sha?.[0], main)
    assert.is(change.trusted, false, "an outsider's fork is not vouched for")
    const props = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/builds/${prBuild.buildid}/properties`)).json() as { properties: Record<string, [unknown, string]>[] }
    assert.is(props.properties[0]!.head_sha?.[0], prHead)
    await h.until(() => final(prHead, 'buildbot/nix-build')?.state !== 'pending' && final(prHead, 'buildbot/nix-build'), 'the pull request combined status', 180_000)

    // The token: used for every clone, never in the registry, changes, properties or logs.
    const api = async (path: string) => await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/${path}`)).text()
    const shown = [await api('projects'), await api('changes'), await api('builds?property=*')]
    const logs = await h.master.data.db.k.selectFrom('logs').select('logid').execute()
    for (const l of logs) shown.push(await api(`logs/${l.logid}/raw`))
    assert.ok(logs.length > 0)
    assert.ok(s.authenticatedGitRequests > 0, 'the checkouts fetched over HTTPS with the token')
    for (const text of shown) assert.not.ok(text.includes(TOKEN), 'the token is never shown')
    assert.equal(s.problems, [], 'every call and answer matches the Gitea API description')
  } finally {
    await s.close()
  }
}, testDatabases())

test('Gitea unreachable at start: the master starts anyway and discovers once it answers; SSH clone URLs; a missing admin right is logged', async () => {
  const dir = mkdtempSync(join(tmp, 'down-'))
  const sshUrl = (owner: string, name: string) => `ssh://git@127.0.0.1:2222/${owner}/${name}.git`
  const s = await startGiteaStandIn({ token: TOKEN, sshUrl, repos: [
    { owner: 'acme', name: 'later', topics: ['build-with-buildbot'] },
    { owner: 'acme', name: 'readonly', topics: ['build-with-buildbot'], admin: false },
  ] })
  await s.pause()
  const [db] = testDatabases()
  const lines: string[] = []
  const log = createLogger({ level: 'warn', destination: { write: (l: string) => { lines.push(l) } } })
  writeFileSync(join(dir, 'key'), 'not used: nothing is cloned here\n', { mode: 0o600 })
  writeFileSync(join(dir, 'known_hosts'), '')
  const cfg = config(s, dir)
  cfg.plugins = [cfg.plugins![0]!, gitea({
    instanceUrl: s.url, tokenFile: join(dir, 'token'), webhookSecretFile: join(dir, 'hook-secret'), webhookBaseUrl: 'https://ci.example.org/',
    sshPrivateKeyFile: join(dir, 'key'), sshKnownHostsFile: join(dir, 'known_hosts'),
  })]
  let h: MasterHarness | undefined
  try {
    h = await startMaster(db!, cfg, { log })
    const failed = await h.until(() => lines.find((l) => l.includes('project discovery failed')), 'the first discovery fails', 60_000)
    assert.match(failed, /unreachable/)
    assert.is(await h.master.projects.get('acme/later'), undefined)
    await s.listen()
    const p = await h.until(() => h!.master.projects.get('acme/later'), 'discovered after a retry', 60_000)
    assert.is(p.source, 'gitea')
    assert.is(p.clone_url, sshUrl('acme', 'later'), 'with an SSH key, projects clone from ssh_url')
    const missing = lines.find((l) => l.includes('acme/readonly'))
    assert.ok(missing && /"missing":"admin"/.test(missing) && /admin permission/.test(missing), 'the log names the missing permission')
    for (const l of lines) assert.not.ok(l.includes(TOKEN))
    assert.equal(s.problems, [])
  } finally {
    await h?.stop()
    await db!.cleanup()
    await s.close()
  }
})

test.run()
