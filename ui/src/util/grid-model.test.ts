import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { attrOrder, cellOf, diffEvaluations, type NixGrid } from './grid-model.ts'

const grid: NixGrid = {
  id: '1,2', attrs: ['unit-1', 'unit-10', 'unit-2', 'gone', 'new'],
  codes: { s: 'success', f: 'failed', d: 'dependency-failed', '.': 'absent' },
  evaluations: [
    { buildid: 1, states: 'sffs.', children: [11, 12, 13, 14, null] },
    { buildid: 2, states: 'fsd.s', children: [21, 22, 23, null, 25] },
  ],
}

test('cells read the state code and the child build', () => {
  assert.equal(cellOf(grid, 1, 0), { state: 'failed', child: 21 })
  assert.equal(cellOf(grid, 1, 3), { state: 'absent', child: null })
})

test('attributes sort naturally and filter by name', () => {
  assert.equal(attrOrder(grid).map((i) => grid.attrs[i]), ['gone', 'new', 'unit-1', 'unit-2', 'unit-10'])
  assert.equal(attrOrder(grid, 'UNIT-1').map((i) => grid.attrs[i]), ['unit-1', 'unit-10'])
})

test('what changed between two evaluations', () => {
  assert.equal(diffEvaluations(grid, 0, 1), {
    newlyFailing: ['unit-1'], stillFailing: ['unit-2'], fixed: ['unit-10'], added: ['new'], removed: ['gone'],
  })
})

test.run()
