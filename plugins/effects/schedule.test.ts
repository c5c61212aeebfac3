import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cron } from 'croner'
import { spreadOf, whenToCron } from './schedule.ts'

test('when → cron: set fields as given (lists too), day names as cron numbers, UTC', () => {
  assert.equal(whenToCron('x', { minute: 30, hour: 3 }), { cron: '30 3 * * *', errors: [] })
  assert.equal(whenToCron('x', { minute: 0, hour: [18, 6], dayOfWeek: ['Sun', 'Fri'], dayOfMonth: [1, 15] }), { cron: '0 6,18 1,15 * 0,5', errors: [] })
  assert.equal(whenToCron('x', { minute: 5, hour: 4, dayOfWeek: 'Mon' }).cron, '5 4 * * 1')
  const next = new Cron('30 3 * * *', { timezone: 'UTC' }).nextRun(new Date('2026-01-01T12:00:00Z'))!
  assert.is(next.toISOString(), '2026-01-02T03:30:00.000Z')
})

test('unset minute and hour are spread by a hash of the name: stable, and different names differ', () => {
  const a = spreadOf('nightly')
  assert.equal(spreadOf('nightly'), a)
  assert.ok(a.minute >= 0 && a.minute < 60 && a.hour >= 0 && a.hour < 24)
  assert.is(whenToCron('nightly', {}).cron, `${a.minute} ${a.hour} * * *`)
  assert.is(whenToCron('nightly', null).cron, `${a.minute} ${a.hour} * * *`)
  assert.is(whenToCron('nightly', { hour: 2 }).cron, `${a.minute} 2 * * *`)
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((n) => whenToCron(n, {}).cron)
  assert.ok(new Set(names).size > 4, `spread: ${names.join(' | ')}`)
})

test('mistakes name the field and give no cron', () => {
  const r = whenToCron('x', { minute: 60, hour: [25], dayOfWeek: ['Monday'], dayOfMonth: 0, every: 1 } as never)
  assert.is(r.cron, undefined)
  assert.equal(r.errors, [
    'when.every: unknown field (known: minute, hour, dayOfWeek, dayOfMonth)',
    'when.minute: 60 is not an integer 0..59',
    'when.hour: 25 is not an integer 0..23',
    'when.dayOfMonth: 0 is not an integer 1..31',
    'when.dayOfWeek: "Monday" is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun',
  ])
  assert.equal(whenToCron('x', { minute: [1, 2] } as never).errors, ['when.minute: must be one integer 0..59, got a list'])
  assert.equal(whenToCron('x', { hour: [] }).errors, ['when.hour: an empty list never matches'])
})

test.run()
