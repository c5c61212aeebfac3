import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CANCELLED, EXCEPTION, FAILURE, RETRY, SKIPPED, SUCCESS, WARNINGS, worstStatus, type Result } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb } from '../support/master-harness.ts'

// A buildset completes when its last request does, with Buildbot's worst-of result folded from SUCCESS.
const CASES: Result[][] = [
  [SUCCESS], [SKIPPED], [SKIPPED, SKIPPED], [SKIPPED, WARNINGS], [SUCCESS, FAILURE], [FAILURE, EXCEPTION],
  [WARNINGS, SUCCESS, SKIPPED], [RETRY, FAILURE], [CANCELLED, RETRY, EXCEPTION], [FAILURE, WARNINGS, SKIPPED],
]

eachDb(test, 'buildset results: complete only after the last request, the worst of them (all SKIPPED is SUCCESS)', async (start) => {
  const h = await start({ workers: [] })
  const data = h.master.data
  const builderids = await Promise.all(['x', 'y', 'z'].map((n) => data.builders.findBuilderId(n)))
  for (const results of CASES) {
    const [bs] = await data.buildsets.addBuildsets([{ reason: 'r', builderids: builderids.slice(0, results.length), sourcestamps: [{ branch: 'b', repository: 'r' }] }])
    const brids = builderids.slice(0, results.length).map((id) => bs!.brids[id]!)
    for (let i = 0; i < results.length; i++) {
      const row = await data.db.k.selectFrom('buildsets').select('complete').where('bsid', '=', bs!.bsid).executeTakeFirstOrThrow()
      assert.is(row.complete, 0, 'complete before its last request')
      await data.buildrequests.completeBuildRequests([brids[i]!], results[i]!)
    }
    const done = await data.buildsets.getBuildset(bs!.bsid)
    assert.is(done!.complete, true)
    assert.is(done!.results, results.reduce<Result>((a, b) => worstStatus(a, b), SUCCESS), `results of ${JSON.stringify(results)}`)
    assert.equal(done!.sourcestamps.map((s) => [s.branch, s.repository]), [['b', 'r']])
  }
}, testDatabases())

test.run()
