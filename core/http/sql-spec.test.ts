import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHarness, seed, type Harness } from './test-harness.ts'
import { parseResultSpec } from './result-spec.ts'
import { buildType } from './rest/builds.ts'
import { runSqlSpec, notNullBool, type AnySelect } from './sql-spec.ts'

let h: Harness
test.before(async () => {
  h = await createHarness()
  const ids = await seed(h)
  for (let i = 0; i < 20; i++) await h.data.builds.addBuild({ builderid: ids.b1, buildrequestid: ids.build1.buildrequestid, workerid: ids.workerid, state_string: `s${i}` })
})
test.after(async () => { await h.close() })

const fields = { buildid: 'buildid', results: 'results', state_string: 'state_string', complete: notNullBool('complete_at') }
const spec = (qs: string) => parseResultSpec([...new URLSearchParams(qs)], buildType, { collection: true })
const base = () => h.db.k.selectFrom('builds').selectAll() as AnySelect

test('filters, order, limit and offset run in SQL: only the page is read', async () => {
  const p = await runSqlSpec<{ buildid: number }>(base(), spec('order=-buildid&limit=3&offset=1&complete=false&state_string__contains=s1'), fields, { dialect: h.db.dialect, pk: 'buildid' })
  assert.is(p.rest, undefined)
  assert.equal(p.rows.map((r) => r.buildid), [21, 20, 19])
  assert.is(p.total, 11)
})

test('a field without SQL mapping moves the rest into memory, and says so', async () => {
  const p = await runSqlSpec(base(), spec('locks_duration_s=0&limit=2'), fields, { dialect: h.db.dialect, pk: 'buildid' })
  assert.ok(p.rest)
  assert.is(p.rest!.limit, 2)
  assert.is(p.rows.length, 22)
})

test.run()
