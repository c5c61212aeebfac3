import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { localWorker, builder, steps, schedulers, secret, secretsFromObject, SUCCESS } from '../../core/index.ts'
import type { MasterConfig } from '../../core/config/define-master.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import type { ConfigError } from '../../core/config/errors.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'

const dbs = testDatabases()
const SECRET = 'hook-secret-4f9c2e'
const BASE = 'a'.repeat(40)
const HEAD = 'b'.repeat(40)

function config(hook: Record<string, unknown> | undefined): MasterConfig {
  return {
    workers: [localWorker({ name: 'local' })],
    secretsProviders: [secretsFromObject({ 'change-hook': SECRET })],
    www: hook ? { changeHooks: { base: hook as never } } : {},
    builders: [builder({ name: 'b', workers: ['local'], steps: [steps.shell({ command: ['true'] })] })],
    schedulers: [schedulers.anyBranch({ name: 'prs', builderNames: ['b'], changeFilter: { category: 'pull' }, trusted: (c) => c.trusted })],
  }
}

interface Posted { status: number; body: string; headers: Headers }
async function post(h: MasterHarness, body: string | undefined, opts: { type?: string; auth?: string | null; method?: string; query?: string } = {}): Promise<Posted> {
  const headers: Record<string, string> = {}
  if (opts.type !== undefined) headers['content-type'] = opts.type
  if (opts.auth !== null) headers.authorization = opts.auth ?? `Bearer ${SECRET}`
  const r = await fetch(`http://127.0.0.1:${h.master.ports.www}/change_hook/base${opts.query ? `?${opts.query}` : ''}`, { method: opts.method ?? 'POST', headers, body })
  return { status: r.status, body: await r.text(), headers: r.headers }
}
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
const FORM = 'application/x-www-form-urlencoded'

async function restChanges(h: MasterHarness): Promise<Record<string, unknown>[]> {
  const r = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/changes?order=changeid`)).json() as { changes: Record<string, unknown>[] }
  return r.changes
}
const count = async (h: MasterHarness) => Number((await h.master.data.db.k.selectFrom('changes').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)

eachDb(test, 'the base hook is off unless configured', async (start) => {
  const h = await start(config(undefined))
  const r = await post(h, form({ author: 'a' }), { type: FORM })
  assert.is(r.status, 400)
  assert.match(r.body, "The dialect specified, 'base', wasn't whitelisted in change_hook")
  assert.is(await count(h), 0)
}, dbs)

eachDb(test, "the base hook stores Buildbot's form fields and JSON changes", async (start) => {
  const h = await start(config({ secret: secret('change-hook') }))
  const r1 = await post(h, form({
    author: 'Jane <jane@example.org>', committer: 'Joe <joe@example.org>', comments: 'fix the frobnicator', branch: 'main',
    revision: 'c'.repeat(40), repository: 'https://example.org/r.git', project: 'acme/r', codebase: 'r', category: 'push',
    revlink: 'https://example.org/r/commit/c', when_timestamp: '1700000000', files: JSON.stringify(['src/a.c', 'README']),
    properties: JSON.stringify({ ticket: 42 }),
  }), { type: FORM })
  assert.is(r1.status, 200, r1.body)
  assert.is(r1.body, '1 change found')

  // Basic auth (Buildbot's change_hook_auth; any user, the secret as password), fields in the query string.
  const basic = `Basic ${Buffer.from(`script:${SECRET}`).toString('base64')}`
  const r2 = await post(h, undefined, { method: 'GET', auth: basic, query: form({ who: 'old-script', branch: 'dev', when: '1700000001' }) })
  assert.is(r2.status, 200, r2.body)

  const r3 = await post(h, JSON.stringify([
    { author: 'json', branch: 'main', revision: 'd'.repeat(40), files: ['x'], properties: { a: [1, 2] }, when_timestamp: 1700000002 },
    { author: 'json2', branch: 'main', revision: 'e'.repeat(40), files: '["y"]', properties: '{"b": true}' },
  ]), { type: 'application/json' })
  assert.is(r3.status, 200, r3.body)
  assert.is(r3.body, '2 change found')

  const changes = await restChanges(h)
  assert.is(changes.length, 4)
  const [c1, c2, c3, c4] = changes as Record<string, any>[]
  assert.equal([c1.author, c1.committer, c1.comments, c1.branch, c1.revision, c1.repository, c1.project, c1.codebase, c1.category, c1.revlink, c1.when_timestamp, c1.files],
    ['Jane <jane@example.org>', 'Joe <joe@example.org>', 'fix the frobnicator', 'main', 'c'.repeat(40), 'https://example.org/r.git', 'acme/r', 'r', 'push', 'https://example.org/r/commit/c', 1700000000, ['src/a.c', 'README']])
  assert.equal(c1.properties.ticket, [42, 'Change'])
  assert.is(c1.trusted, false, 'the base hook vouches for nothing unless configured to')
  assert.equal([c2.author, c2.branch, c2.when_timestamp, c2.repository], ['old-script', 'dev', 1700000001, ''])
  assert.equal([c3.author, c3.files, c3.properties.a, c3.when_timestamp], ['json', ['x'], [[1, 2], 'Change'], 1700000002])
  assert.equal([c4.author, c4.files, c4.properties.b], ['json2', ['y'], [true, 'Change']])
}, dbs)

eachDb(test, 'a pull request with base and head revisions: the head is the revision, and it builds untrusted', async (start) => {
  const h = await start(config({ secret: secret('change-hook') }))
  const added = h.waitFor<{ bsid: number }>('buildsets/*/new')
  const r = await post(h, JSON.stringify({
    author: 'outsider', branch: 'refs/pull/7/merge', repository: 'https://example.org/r.git', category: 'pull',
    properties: { base_sha: BASE, head_sha: HEAD, base_branch: 'main', head_branch: 'feature', pr_number: 7, event: 'pull_request' },
  }), { type: 'application/json' })
  assert.is(r.status, 200, r.body)
  const [c] = await restChanges(h) as Record<string, any>[]
  assert.is(c!.revision, HEAD)
  assert.equal(c!.properties.base_sha, [BASE, 'Change'])
  assert.equal(c!.properties.head_sha, [HEAD, 'Change'])
  const { bsid } = await added
  assert.is(await h.waitBuildset(bsid), SUCCESS)
  const bs = await h.master.data.buildsets.getBuildset(bsid)
  assert.is(bs!.trusted, false)
  const props = (await h.master.data.db.k.selectFrom('buildsets').select('properties').where('bsid', '=', bsid).executeTakeFirstOrThrow()).properties
  assert.is(JSON.parse(props).head_sha[0], HEAD)
}, dbs)

eachDb(test, "with `trusted: true` the hook vouches for its changes, so a pull request's buildset is trusted", async (start) => {
  const h = await start(config({ secret: secret('change-hook'), trusted: true }))
  const added = h.waitFor<{ bsid: number }>('buildsets/*/new')
  const r = await post(h, form({ author: 'member', category: 'pull', branch: 'refs/pull/8/merge', properties: JSON.stringify({ base_sha: BASE, head_sha: HEAD }) }), { type: FORM })
  assert.is(r.status, 200, r.body)
  const { bsid } = await added
  assert.is((await h.master.data.buildsets.getBuildset(bsid))!.trusted, true)
  assert.is((await restChanges(h))[0]!.trusted, true)
  const vouched = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/changes?trusted=true`)).json() as { changes: unknown[] }
  assert.is(vouched.changes.length, 1)
  const none = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/changes?trusted=false`)).json() as { changes: unknown[] }
  assert.is(none.changes.length, 0)
}, dbs)

eachDb(test, 'without the secret 401, with a wrong one 403, and bad input 400 with a clear message; nothing is stored', async (start) => {
  const h = await start(config({ secret: secret('change-hook') }))
  const ok = form({ author: 'a', branch: 'main' })
  const missing = await post(h, ok, { type: FORM, auth: null })
  assert.is(missing.status, 401)
  assert.match(missing.headers.get('www-authenticate') ?? '', /Basic/)
  assert.match(missing.body, /shared secret/)
  for (const auth of [`Bearer ${SECRET}x`, `Bearer ${SECRET.slice(0, -1)}`, `Basic ${Buffer.from(`u:wrong`).toString('base64')}`, 'Bearer ']) {
    const r = await post(h, ok, { type: FORM, auth })
    assert.ok(r.status === 403 || r.status === 401, `${auth}: ${r.status}`)
  }
  assert.is((await post(h, ok, { type: FORM, auth: `Bearer nope` })).status, 403)

  const cases: [string, string | undefined, RegExp][] = [
    [form({ branch: 'main' }), FORM, /'author' is required/],
    [form({ author: 'a', files: 'src/a.c' }), FORM, /'files' must be JSON/],
    [form({ author: 'a', files: '{"a":1}' }), FORM, /'files' must be a list of file names/],
    [form({ author: 'a', properties: '[1]' }), FORM, /'properties' must be an object/],
    [form({ author: 'a', when_timestamp: 'yesterday' }), FORM, /'when_timestamp' must be seconds since the epoch/],
    [form({ author: 'a', revison: 'abc' }), FORM, /unknown field 'revison'/],
    [form({ author: 'a', category: 'pull', properties: JSON.stringify({ base_sha: BASE }) }), FORM, /needs both properties 'base_sha' and 'head_sha'/],
    [form({ author: 'a', category: 'pull', properties: JSON.stringify({ base_sha: BASE, head_sha: 'main; rm -rf' }) }), FORM, /'head_sha' must be a commit id/],
    [form({ author: 'a', properties: JSON.stringify({ base_sha: BASE, head_sha: HEAD }) }), FORM, /send category 'pull'/],
    ['{"author": "a",', 'application/json', /not valid JSON/],
    ['"a"', 'application/json', /must be a JSON object/],
    ['[]', 'application/json', /holds no change/],
    [JSON.stringify([{ author: 'first' }, { author: 7 }]), 'application/json', /change 1: 'author' must be a string/],
    ['--x\r\nContent-Disposition: form-data; name="author"\r\n\r\na\r\n--x--', 'multipart/form-data; boundary=x', /unsupported content type 'multipart\/form-data'/],
    ['', FORM, /no change fields/],
  ]
  for (const [body, type, message] of cases) {
    const r = await post(h, body, { type })
    assert.is(r.status, 400, `${body}: ${r.status} ${r.body}`)
    assert.match(r.body, message)
  }
  assert.is(await count(h), 0, 'nothing was stored')
  // A correct request still works afterwards.
  assert.is((await post(h, ok, { type: FORM })).status, 200)
  assert.is(await count(h), 1)
}, dbs)

test('config mistakes of the hook (and of passEnvironment) name the key and the fix', async () => {
  const lines = async (cfg: unknown) => { try { await resolveConfig(cfg, '/x/m.ts'); return [] } catch (e) { return (e as ConfigError).lines } }
  assert.equal(await lines({ www: { changeHooks: { base: {} } } }),
    ["/x/m.ts: www.changeHooks.base.secret: the base hook needs a shared secret: secret('change-hook') from a secrets provider (or a string of at least 8 characters)"])
  assert.equal((await lines({ www: { changeHooks: { base: { secret: 'short' } } } })).length, 1)
  assert.match((await lines({ www: { changeHooks: { bsae: { secret: secret('x') } } } })).join('\n'), /www\.changeHooks\.bsae: unknown key 'bsae' \(did you mean 'base'\?\)/)
  assert.match((await lines({ www: { changeHooks: { base: { secret: secret('x'), trusted: 'yes' } } } })).join('\n'), /www\.changeHooks\.base\.trusted: must be true or false/)
  assert.match((await lines({ workers: [localWorker({ name: 'l', passEnvironment: ['OK', 'NOT OK'] })] })).join('\n'), /workers\[0\]\.passEnvironment.*'NOT OK' is not an environment variable name/)
  assert.equal(await lines({ www: { changeHooks: { base: { secret: secret('x'), trusted: true } } } }), [])
})

test.run()
