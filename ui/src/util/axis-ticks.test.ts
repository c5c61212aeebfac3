import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { axisTicks } from './axis-ticks.ts'

test('a matrix that finished within a second still gets a scale, in milliseconds', () => {
  assert.equal(axisTicks(0.3).map((t) => t.label), ['0', '+50ms', '+100ms', '+150ms', '+200ms', '+250ms', '+300ms'])
  assert.equal(axisTicks(0.03).map((t) => t.label), ['0', '+10ms', '+20ms', '+30ms'])
})

test('longer spans tick in seconds, minutes and hours, at most 8 after 0', () => {
  assert.equal(axisTicks(12).map((t) => t.label), ['0', '+2s', '+4s', '+6s', '+8s', '+10s', '+12s'])
  assert.equal(axisTicks(3600).map((t) => t.label).slice(0, 3), ['0', '+10m 0s', '+20m 0s'])
  for (const span of [0.7, 3, 59, 601, 7200, 5 * 86400]) assert.ok(axisTicks(span).length <= 9 && axisTicks(span).length >= 2, `span ${span}`)
  assert.equal(axisTicks(0).map((t) => t.label), ['0'])
})

test.run()
