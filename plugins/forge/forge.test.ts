import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createLogger } from '../../core/util/logger.ts'
import type { ProjectSpec } from '../../core/index.ts'
import { createDeliveryDedup, createDiscoveryLoop, decidePullRequestTrust, repoAllowed, repoExcluded } from './index.ts'

const silent = createLogger({ level: 'silent' })

test('delivery dedup: one run per id, concurrent duplicates wait, failures and refused values are forgotten', async () => {
  const d = createDeliveryDedup({ max: 3 })
  let runs = 0
  let release!: () => void
  const gate = new Promise<void>((r) => { release = r })
  const first = d.run('a', async () => { runs++; await gate; return 'stored' })
  const second = d.run('a', async () => { runs++; return 'again' })
  release()
  assert.equal(await first, { duplicate: false, value: 'stored' })
  assert.equal(await second, { duplicate: true })
  assert.equal(await d.run('a', async () => { runs++; return 'x' }), { duplicate: true })
  assert.is(runs, 1)

  await d.run('b', async () => { throw new Error('database down') }).catch(() => {})
  assert.equal(await d.run('b', async () => 'ok'), { duplicate: false, value: 'ok' }, 'a failed delivery is handled again')
  assert.equal(await d.run('c', async () => 400, (s) => s < 400), { duplicate: false, value: 400 })
  assert.equal(await d.run('c', async () => 200, (s) => s < 400), { duplicate: false, value: 200 }, 'a refused value is not remembered')
  assert.equal((await d.run(undefined, async () => 1)).duplicate, false)
  assert.equal((await d.run(undefined, async () => 1)).duplicate, false, 'no id: never a duplicate')
  await d.run('d', async () => 1); await d.run('e', async () => 1)
  assert.is(d.size(), 3, 'bounded')
  assert.equal((await d.run('a', async () => 'old id')).duplicate, false, 'the oldest id was dropped')
})

test('delivery dedup with a store: an id the store handled is a duplicate; ids are recorded after a kept run only', async () => {
  const stored = new Set<string>(['from-before-restart'])
  const store = { handled: async (id: string) => stored.has(id), record: async (id: string) => { stored.add(id) } }
  const d = createDeliveryDedup({ store: () => store })
  let runs = 0
  assert.equal(await d.run('from-before-restart', async () => { runs++; return 1 }), { duplicate: true })
  assert.is(runs, 0)
  assert.equal(await d.run('new', async () => { runs++; return 200 }, (v) => v < 400), { duplicate: false, value: 200 })
  await d.run('refused', async () => 400, (v) => v < 400)
  await d.run('failed', async () => { throw new Error('database down') }).catch(() => {})
  assert.equal([...stored].sort(), ['from-before-restart', 'new'])
  // Another instance (a restarted master) with the same store.
  assert.equal(await createDeliveryDedup({ store: () => store }).run('new', async () => 'again'), { duplicate: true })
})

test('repository filter: topic first, then the allowlists when either is set', () => {
  const r = { fullName: 'Acme/App', owner: 'Acme', topics: ['build-with-buildbot'] }
  assert.ok(repoAllowed(r, { topic: 'build-with-buildbot' }))
  assert.not.ok(repoAllowed({ ...r, topics: [] }, { topic: 'build-with-buildbot' }))
  assert.match(repoExcluded({ ...r, topics: [] }, { topic: 'build-with-buildbot' })!, /no 'build-with-buildbot' topic/)
  assert.ok(repoAllowed({ ...r, topics: [] }, { topic: null }))
  assert.ok(repoAllowed(r, { userAllowlist: ['acme'] }))
  assert.ok(repoAllowed(r, { userAllowlist: [], repoAllowlist: ['acme/app'] }))
  assert.not.ok(repoAllowed(r, { userAllowlist: ['other'], repoAllowlist: null }))
})

test('pull request trust: same repository, allowlist, member, collaborator; failed lookups do not trust', async () => {
  const base = { author: 'mallory', baseRepo: 'acme/app' }
  assert.ok((await decidePullRequestTrust({ ...base, headRepo: 'ACME/app' })).trusted)
  assert.ok((await decidePullRequestTrust({ ...base, headRepo: 'mallory/app', allowlist: ['Mallory'] })).trusted)
  let asked = 0
  const member = await decidePullRequestTrust({ ...base, headRepo: 'mallory/app', isOrgMember: async () => { asked++; return true }, isCollaborator: async () => { asked++; return false } })
  assert.ok(member.trusted); assert.is(asked, 1, 'stops at the first yes')
  assert.ok((await decidePullRequestTrust({ ...base, headRepo: null, isOrgMember: async () => false, isCollaborator: async () => true })).trusted)
  const out = await decidePullRequestTrust({ ...base, headRepo: 'mallory/app', isOrgMember: async () => { throw new Error('HTTP 502') }, isCollaborator: async () => false })
  assert.not.ok(out.trusted)
  assert.match(out.reason, /without secrets/)
})

test('discovery loop: a failing forge keeps what was applied, retries with backoff, shares a run in flight', async () => {
  const ac = new AbortController()
  const applied: ProjectSpec[][] = []
  let calls = 0
  let fail = true
  let retried!: () => void
  const retriedP = new Promise<void>((r) => { retried = r })
  const loop = createDiscoveryLoop({
    name: 'test', log: silent, signal: ac.signal, retry: { initialMs: 1, maxMs: 2 },
    async discover() {
      calls++
      if (fail) { if (calls === 2) fail = false; throw new Error('connect ECONNREFUSED') }
      return [{ name: 'acme/app', cloneUrl: '/srv/acme/app' }]
    },
    async apply(specs) { applied.push(specs); retried() },
  })
  const a = loop.discover()
  const b = loop.discover()
  await a.catch(() => {}); await b.catch(() => {})
  assert.is(calls, 1, 'one run for two callers')
  assert.ok(loop.failures() >= 1)
  const keepAlive = setInterval(() => {}, 1000) // the loop's timers do not hold the process
  await retriedP // the backoff timer ran again (second try fails, third succeeds and applies)
  clearInterval(keepAlive)
  assert.is(calls, 3)
  assert.equal(applied, [[{ name: 'acme/app', cloneUrl: '/srv/acme/app' }]])
  assert.is(loop.failures(), 0)
  ac.abort()
  await assert.not.throws(() => loop.trigger())
})

test.run()
