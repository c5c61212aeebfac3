import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { branchRows, defaultBranchRow, type BuildLike } from './branches.ts'

const build = (buildid: number, props: Record<string, unknown>, results = 0): BuildLike => ({
  buildid, builderid: 1, number: buildid, results, complete: true, started_at: 1, complete_at: 2,
  properties: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, [v, 'test']])),
})

test('branches and pull requests are grouped, newest first', () => {
  const builds = [
    build(1, { branch: 'main', event: 'push' }, 2),
    build(2, { branch: 'main', event: 'push' }, 0),
    build(3, { branch: 'feature', event: 'pull_request', pr_number: 7 }, 2),
  ]
  const rows = branchRows(builds)
  assert.equal(rows.map((r) => r.label), ['PR #7', 'main'])
  assert.is(rows[1].latest.buildid, 2)
  assert.is(rows[1].count, 2)
  assert.is(defaultBranchRow(rows, builds)?.branch, 'main')
})

test('a declared default branch wins', () => {
  const builds = [build(1, { branch: 'trunk', default_branch: 'trunk' }), build(2, { branch: 'main' })]
  assert.is(defaultBranchRow(branchRows(builds), builds)?.branch, 'trunk')
})

test.run()
