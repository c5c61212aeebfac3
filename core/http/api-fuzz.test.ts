import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { createHarness, seed, type Harness } from './test-harness.ts'
import { testDatabases } from '../../test/support/databases.ts'

// Property-based fuzzing of the REST query parser and the JSON-RPC edge, on every database:
// whatever the client sends, the answer is a success or a 4xx (or Buildbot's 501 for an unknown
// method), never a 500, and the server
// still answers afterwards. Bounded: a few hundred cases per edge.
const RUNS = Number(process.env.FUZZ_RUNS ?? 200)
// The seed is printed with the figures: FUZZ_SEED=<seed> replays a run.
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))

const FIELDS = ['buildid', 'number', 'builderid', 'buildrequestid', 'workerid', 'masterid', 'started_at', 'complete', 'complete_at', 'results',
  'state_string', 'priority', 'claimed', 'bsid', 'reason', 'name', 'tags', 'changeid', 'author', 'revision', 'when_timestamp', 'logid', 'num_lines', 'slug', 'paused']
const OPS = ['', '__eq', '__ne', '__lt', '__le', '__gt', '__ge', '__contains', '__in', '__notin', '__bogus']
const nasty = fc.constantFrom('', '0', '-1', '1', '2147483647', '2147483648', '-2147483649', '9007199254740993', '1000000000000000000000', '1e21', '1.5',
  ' 7 ', '+3', 'true', 'yes', 'NaN', 'Infinity', '\u0000', 'a\u0000b', '%', '*', '-', '..', 'b1', 'é', '\ud800', "'; drop table builds; --")
const value = fc.oneof(nasty, fc.string({ maxLength: 12 }), fc.integer().map(String), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String))
const queryKey = fc.oneof(
  fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom(...OPS)).map(([f, o]) => f + o),
  fc.constantFrom('limit', 'offset', 'field', 'order', 'property'),
  fc.string({ maxLength: 8 }),
)
const idSeg = fc.oneof(fc.constantFrom('1', '2', '0', '-1', '2147483647', '2147483648', '99999999999999999999', 'b1', '%00', 'x%2Fy', ''), fc.integer().map(String))
const restPath = fc.oneof(
  fc.constantFrom('builds', 'buildrequests', 'buildsets', 'builders', 'changes', 'steps', 'logs', 'workers', 'masters', 'projects', 'schedulers', 'sourcestamps', 'forceschedulers', 'changesources'),
  fc.tuple(fc.constantFrom('builds', 'buildrequests', 'buildsets', 'builders', 'changes', 'steps', 'logs', 'workers', 'masters', 'projects', 'sourcestamps'), idSeg).map(([a, b]) => `${a}/${b}`),
  fc.tuple(idSeg, idSeg).map(([a, b]) => `builders/${a}/builds/${b}`),
  fc.tuple(idSeg, fc.constantFrom('steps', 'properties', 'changes')).map(([a, b]) => `builds/${a}/${b}`),
  fc.tuple(idSeg, fc.constantFrom('contents', 'raw', 'raw_inline')).map(([a, b]) => `logs/${a}/${b}`),
)

const PARAM_KEYS = ['builderNames', 'builderid', 'priority', 'reason', 'username', 'branch', 'revision', 'repository', 'project', 'enabled', 'owner']
const jsonish = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    value, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom(1e300, -1e300, 2 ** 31, 2 ** 53 + 2, -0),
    fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('v'), { maxKeys: 3 })),
})).v
const params = fc.dictionary(fc.oneof(fc.constantFrom(...PARAM_KEYS), fc.string({ maxLength: 6 })), jsonish, { maxKeys: 5 })
const rpcPath = fc.oneof(
  fc.constant('forceschedulers/force'), fc.constant('forceschedulers/nope'),
  idSeg.map((i) => `buildrequests/${i}`), idSeg.map((i) => `builds/${i}`), idSeg.map((i) => `builders/${i}/builds/1`),
  idSeg.map((i) => `schedulers/${i}`), idSeg.map((i) => `workers/${i}`),
)
const method = fc.constantFrom('force', 'stop', 'rebuild', 'cancel', 'set_priority', 'enable', 'pause', 'unpause', 'bogus')
const deep = fc.integer({ min: 1, max: 5000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`)
const rpcBody = fc.oneof(
  fc.record({ jsonrpc: fc.constant('2.0'), method, params, id: fc.oneof(fc.integer(), fc.constant(null), fc.string({ maxLength: 4 })) }).map((b) => JSON.stringify(b)),
  fc.tuple(method, deep).map(([m, d]) => `{"jsonrpc":"2.0","method":"${m}","id":1,"params":{"reason":${d},"builderNames":${d}}}`),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 40 }),
)

for (const tdb of testDatabases()) {
  const t = suite(`api fuzz (${tdb.name})`)
  // Made by the first test rather than in `before`: uvu swallows an error thrown by a `before`
  // hook (the suite then reports 0 of 2 and nothing else); a test reports it.
  let made: Promise<Harness> | undefined
  let h: Harness
  const harness = async (): Promise<void> => {
    made ??= createHarness({ dbUrl: (dir) => tdb.url(dir) }).then(async (x) => { await seed(x); return x })
    h = await made
  }
  t.after(async () => { await (await made?.catch(() => undefined))?.close(); await tdb.cleanup() })

  const stillServes = async () => {
    const res = await h.server.app.inject({ method: 'GET', url: '/api/v2/builds?limit=1' })
    assert.is(res.statusCode, 200)
  }

  t('REST paths and query parameters: 2xx or 4xx, never 5xx', async () => {
    await harness()
    let cases = 0
    await fc.assert(fc.asyncProperty(restPath, fc.array(fc.tuple(queryKey, value), { maxLength: 5 }), async (path, query) => {
      cases++
      const qs = new URLSearchParams(query).toString()
      const url = `/api/v2/${path}${qs ? `?${qs}` : ''}`
      const res = await h.server.app.inject({ method: 'GET', url, headers: { accept: 'application/json' } })
      if (res.statusCode >= 500) throw new Error(`${url} → ${res.statusCode} ${res.body}`)
      if (res.statusCode >= 400) assert.ok(typeof JSON.parse(res.body).error === 'string', url)
    }), { numRuns: RUNS, seed: SEED })
    await stillServes()
    console.log(`api fuzz (${tdb.name}): REST ${cases} cases, 0 server errors (seed ${SEED})`)
  })

  t('JSON-RPC bodies: 2xx or 4xx, never 5xx', async () => {
    await harness()
    let cases = 0
    await fc.assert(fc.asyncProperty(rpcPath, rpcBody, async (path, body) => {
      cases++
      const res = await h.server.app.inject({ method: 'POST', url: `/api/v2/${path}`, headers: { 'content-type': 'application/json' }, payload: body })
      // 501 -32601 is Buildbot's answer for a method the endpoint does not have: a client error.
      const unsupported = res.statusCode === 501 && JSON.parse(res.body).error?.code === -32601
      if (res.statusCode >= 500 && !unsupported) throw new Error(`POST ${path} ${body.slice(0, 300)} → ${res.statusCode} ${res.body}`)
      if (res.statusCode >= 400) assert.ok('error' in JSON.parse(res.body), path)
    }), { numRuns: RUNS, seed: SEED })
    await stillServes()
    console.log(`api fuzz (${tdb.name}): JSON-RPC ${cases} cases, 0 server errors (seed ${SEED})`)
  })

  t.run()
}
