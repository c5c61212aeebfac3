import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { createHmac, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { worker } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import { github } from '../../plugins/github/index.ts'
import { gitea } from '../../plugins/gitea/index.ts'
import { startMaster, type MasterHarness } from '../support/master-harness.ts'
import { startGiteaStandIn, type GiteaStandIn } from '../support/gitea-stand-in.ts'
import type { TestDatabase } from '../support/databases.ts'
import { githubFixture, WEBHOOK_SECRET } from '../github/fixture.ts'
import { example, pullRequestPayload, pushPayload } from '../github/webhook-deliveries.ts'

// Property-based fuzzing of the GitHub and Gitea change hooks of a running master: correctly
// signed deliveries whose bodies are real payloads (GitHub's documented examples, Gitea's
// shapes) with random parts deleted or replaced by hostile values, random events, and bodies
// that are not JSON at all. Every answer is a 2xx or a 4xx, never a 5xx; a refused delivery
// stores nothing; the master still serves afterwards. Bounded (FUZZ_RUNS, default 200 each).
const RUNS = Number(process.env.FUZZ_RUNS ?? 200)
const GITEA_TOKEN = 'gitea-fuzz-token-8d1f'
const GITEA_SECRET = 'gitea-fuzz-secret-2b9a'
const sqlite: TestDatabase = { name: 'sqlite', url: async (dir) => `sqlite:${join(dir, 'state.sqlite')}`, cleanup: async () => {} }

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

const deep = fc.integer({ min: 1, max: 3000 }).map((n) => { let v: Json = 'x'; for (let i = 0; i < n; i++) v = [v]; return v })
const hostile: fc.Arbitrary<Json> = fc.oneof(
  fc.string({ maxLength: 12 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null),
  fc.constantFrom<Json>('', '0'.repeat(40), 'refs/heads/', 'refs/tags/v1', 'refs/heads/../../x', '../../etc', 'a/b/c', '/', ' ', '\u0000', 'é\ud800', 1e300, -1, 2 ** 31, 2 ** 53 + 2, [], {}, 'x'.repeat(20_000)),
  fc.json({ maxDepth: 2 }).map((s) => JSON.parse(s) as Json),
  deep,
)
/** A mutation: follow `steps` (each picks a key by index) and delete or replace what is there. */
const mutation = fc.record({ steps: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), op: fc.constantFrom('delete', 'set', 'set'), value: hostile })
type Mutation = { steps: number[]; op: string; value: Json }

function mutate(payload: Record<string, Json>, muts: Mutation[]): Json {
  let root: Json = structuredClone(payload)
  for (const m of muts) {
    let parent: Json = null
    let key: string | number = ''
    let node: Json = root
    for (const s of m.steps) {
      if (node === null || typeof node !== 'object') break
      const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node)
      if (!keys.length) break
      parent = node
      key = keys[s % keys.length]!
      node = (node as Record<string | number, Json>)[key]!
    }
    if (parent === null) { root = m.op === 'set' ? m.value : root; continue }
    if (m.op === 'delete' && !Array.isArray(parent)) delete (parent as Record<string, Json>)[key]
    else (parent as Record<string | number, Json>)[key] = m.value
  }
  return root
}

const body = (base: fc.Arbitrary<Record<string, Json>>) => fc.oneof(
  { weight: 6, arbitrary: fc.tuple(base, fc.array(mutation, { maxLength: 4 })).map(([p, m]) => JSON.stringify(mutate(p, m))) },
  { weight: 1, arbitrary: base.map((p) => JSON.stringify(p)) },
  { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 40 }), fc.json({ maxDepth: 3 }), fc.constantFrom('', '{', 'null', '[]', '"x"', '{"repository":null}')) },
)

async function fuzzHook(h: MasterHarness, what: string, cases: fc.Arbitrary<{ event: string; body: string; form: boolean }>, send: (c: { event: string; body: string; form: boolean }) => Promise<Response>): Promise<void> {
  const k = h.master.data.db.k
  const count = async () => Number((await k.selectFrom('changes').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)
  const answers = new Map<number, number>()
  let n = 0
  // A counterexample holds whole payloads: the first lines are enough to see what broke.
  const short = (err: unknown) => { throw new Error(String((err as Error).message).slice(0, 4000)) }
  await fc.assert(fc.asyncProperty(cases, async (c) => {
    n++
    const before = await count()
    const res = await send(c)
    const text = await res.text()
    answers.set(res.status, (answers.get(res.status) ?? 0) + 1)
    if (res.status >= 500) throw new Error(`${c.event} ${c.body.slice(0, 300)} → ${res.status} ${text}`)
    if (res.status >= 400) assert.is(await count(), before, `a refused delivery stored nothing: ${res.status} ${text}`)
  }), { numRuns: RUNS }).catch(short)
  const still = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/changes?limit=1`)
  assert.is(still.status, 200, 'the master still serves')
  console.log(`${what}: ${n} cases, 0 errors (answers ${JSON.stringify(Object.fromEntries([...answers].sort()))}), ${await count()} changes stored`)
}

test('GitHub and Gitea change hooks: signed, mutated deliveries get a 2xx or a 4xx, never a 5xx; refused ones store nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-hook-fuzz-'))
  const { gh, options } = await githubFixture()
  let gt: GiteaStandIn | undefined
  let h: MasterHarness | undefined
  try {
    gh.addRepo({ owner: 'acme', ownerType: 'Organization', name: 'app', cloneUrl: '/srv/git/acme/app', topics: ['build-with-buildbot'], installationId: 31 })
    gt = await startGiteaStandIn({ token: GITEA_TOKEN, repos: [{ owner: 'tea', name: 'cup', topics: ['build-with-buildbot'] }] })
    writeFileSync(join(dir, 'token'), GITEA_TOKEN)
    writeFileSync(join(dir, 'hook-secret'), GITEA_SECRET)
    // Builds wait for a worker that never connects: this is about the hooks and the database.
    h = await startMaster(sqlite, {
      workers: [worker({ name: 'absent', password: 'never-used-pw' })],
      plugins: [
        nix({ projects: [], workers: ['absent'] }),
        github(options({ createWebhooks: false })),
        gitea({ instanceUrl: gt.url, tokenFile: join(dir, 'token'), webhookSecretFile: join(dir, 'hook-secret'), webhookBaseUrl: 'https://ci.example.org/' }),
      ],
    })
    await h.until(async () => (await h!.master.projects.get('acme/app')) != null && (await h!.master.projects.get('tea/cup')) != null, 'both projects discovered')
    const www = `http://127.0.0.1:${h.master.ports.www}`
    const sha = fc.stringMatching(/^[0-9a-f]{40}$/)

    const ghBase = fc.oneof(
      fc.tuple(sha, fc.constantFrom('refs/heads/main', 'refs/heads/fuzz', 'refs/tags/v1')).map(([after, ref]) => pushPayload({ repo: 'acme/app', ref, after, installationId: 31 }) as Record<string, Json>),
      fc.tuple(sha, sha, fc.constantFrom('opened', 'synchronize', 'reopened', 'closed', 'edited'), fc.constantFrom<string | null>('acme/app', 'mallory/app', null))
        .map(([a, b, action, headRepo]) => pullRequestPayload({ action, repo: 'acme/app', number: 7, author: 'mallory', base: { ref: 'main', sha: a }, head: { ref: 'feature', sha: b, repo: headRepo }, installationId: 31 }) as Record<string, Json>),
      fc.constantFrom('ping', 'installation', 'installation_repositories', 'repository', 'check_run', 'check_suite', 'issues').map((e) => example(e) as Record<string, Json>),
    )
    const ghCases = fc.record({
      event: fc.constantFrom('push', 'push', 'pull_request', 'pull_request', 'ping', 'installation', 'installation_repositories', 'repository', 'check_run', 'issues', 'bogus', ''),
      body: body(ghBase), form: fc.boolean(),
    })
    await fuzzHook(h, 'GitHub change hook', ghCases, ({ event, body: b, form }) => {
      const raw = form ? new URLSearchParams({ payload: b }).toString() : b
      return fetch(`${www}/change_hook/github`, {
        method: 'POST', body: raw,
        headers: {
          'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json', 'x-github-event': event, 'x-github-delivery': randomUUID(),
          'x-hub-signature-256': `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(raw).digest('hex')}`,
        },
      })
    })

    const repo = gt.repoJson(gt.repos[0]!) as Record<string, Json>
    const fork = { ...repo, id: 9, full_name: 'mallory/cup', owner: { id: 3, login: 'mallory' } }
    const user = { id: 2, login: 'alice', email: 'alice@example.org' }
    const commit = (id: string) => ({ id, message: 'x', url: `${gt!.url}/tea/cup/commit/${id}`, author: { name: 'Alice', email: 'alice@example.org', username: 'alice' }, committer: { name: 'Alice', email: 'alice@example.org', username: 'alice' }, timestamp: '2024-01-01T00:00:00Z', added: [], removed: [], modified: [] })
    const gtBase = fc.oneof(
      fc.tuple(sha, fc.constantFrom('refs/heads/main', 'refs/heads/fuzz', 'refs/tags/v1')).map(([after, ref]) => ({ ref, before: '0'.repeat(40), after, compare_url: '', repository: repo, pusher: user, sender: user, commits: [commit(after)], head_commit: commit(after) }) as Record<string, Json>),
      fc.tuple(sha, sha, fc.constantFrom('opened', 'synchronized', 'reopened', 'closed', 'edited'), fc.boolean()).map(([a, b, action, fromFork]) => ({
        action, number: 3, repository: repo, sender: user,
        pull_request: { number: 3, title: 'A feature', html_url: `${gt!.url}/tea/cup/pulls/3`, user: { id: 3, login: 'mallory' }, head: { ref: 'feature', sha: b, repo: fromFork ? fork : repo, repo_id: fromFork ? 9 : 1, label: 'feature' }, base: { ref: 'main', sha: a, repo, repo_id: 1, label: 'main' } },
      }) as Record<string, Json>),
    )
    const gtCases = fc.record({ event: fc.constantFrom('push', 'push', 'pull_request', 'pull_request', 'create', 'bogus', ''), body: body(gtBase), form: fc.constant(false) })
    await fuzzHook(h, 'Gitea change hook', gtCases, ({ event, body: b }) => fetch(`${www}/change_hook/gitea`, {
      method: 'POST', body: b,
      headers: { 'content-type': 'application/json', 'x-gitea-event': event, 'x-gitea-delivery': randomUUID(), 'x-gitea-signature': createHmac('sha256', GITEA_SECRET).update(b).digest('hex') },
    }))
  } finally {
    await h?.stop()
    await gt?.close()
    await gh.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
