import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Bus } from './bus.ts'

test('wildcards match one segment of keys of the same length', () => {
  const bus = new Bus()
  const got: string[] = []
  bus.subscribe('builds/*/finished', (k) => got.push(k.join('/')))
  bus.publish(['builds', '1', 'finished'], {})
  bus.publish(['builds', '1', 'new'], {})
  bus.publish(['builders', '2', 'builds', '1', 'finished'], {})
  assert.equal(got, ['builds/1/finished'])
})

test("taps see this bus's events only; localOnly subscribers skip events of other masters", () => {
  const bus = new Bus()
  const all: string[] = [], local: string[] = [], tapped: string[] = []
  bus.subscribe('changes/*/new', (k) => all.push(k[1]!))
  bus.subscribe('changes/*/new', (k) => local.push(k[1]!), { localOnly: true })
  const tap = bus.tap((k) => tapped.push(k[1]!))
  bus.publish(['changes', '1', 'new'], {})
  bus.deliverRemote(['changes', '2', 'new'], {})
  tap.unsubscribe()
  bus.publish(['changes', '3', 'new'], {})
  assert.equal(all, ['1', '2', '3'])
  assert.equal(local, ['1', '3'])
  assert.equal(tapped, ['1'])
})

test('a failing subscriber or tap reaches onError, not the publisher', () => {
  const errors: string[] = []
  const bus = new Bus({ onError: (err) => errors.push((err as Error).message) })
  bus.subscribe('a/b', () => { throw new Error('sub') })
  bus.tap(() => { throw new Error('tap') })
  bus.publish(['a', 'b'], null)
  assert.equal(errors, ['sub', 'tap'])
})

test.run()
