import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { formatDuration, formatEpoch, prop, resultName, timeAgo } from './format.ts'

test('result names follow Buildbot ints; no result is pending or running', () => {
  assert.is(resultName(0), 'success')
  assert.is(resultName(2), 'failure')
  assert.is(resultName(6), 'cancelled')
  assert.is(resultName(null, false), 'running')
  assert.is(resultName(-1), 'pending')
})

test('durations and ages are short', () => {
  assert.is(formatDuration(4_200), '4s')
  assert.is(formatDuration(125_000), '2m 5s')
  assert.is(formatDuration(3_720_000), '1h 2m')
  assert.is(timeAgo(1000, 1_000_000 + 3_420_000), '57m ago')
  assert.is(timeAgo(0, 3 * 86_400_000), '3d ago')
})

test('prop reads a sourced property', () => {
  assert.is(prop({ branch: ['main', 'Change'] }, 'branch'), 'main')
  assert.is(prop({}, 'branch'), undefined)
})

test('absolute times: local, one shape', () => {
  const epoch = new Date(2026, 11, 5, 9, 3, 4).getTime() / 1000
  assert.is(formatEpoch(epoch), '2026-12-05 09:03:04')
  assert.is(formatEpoch(null), '')
})

test.run()
