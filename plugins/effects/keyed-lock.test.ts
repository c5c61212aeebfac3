import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createKeyedLock } from './keyed-lock.ts'
import { fnmatch } from '../../core/index.ts'

const globMatches = (glob: string, s: string) => fnmatch(s, glob)

test('one holder at a time per key, in order; other keys do not wait; a waiter that gives up lets the next one in', async () => {
  const lock = createKeyedLock()
  const order: string[] = []
  const r1 = await lock.acquire('repo main')
  const other = await lock.acquire('repo release')
  other()
  const ac = new AbortController()
  const p2 = lock.acquire('repo main').then((rel) => { order.push('second'); return rel })
  const p3 = lock.acquire('repo main', ac.signal).then(() => { order.push('gave up got it') }, () => { order.push('gave up') })
  const p4 = lock.acquire('repo main').then((rel) => { order.push('fourth'); rel() })
  ac.abort(new Error('stopped'))
  await p3
  assert.equal(order, ['gave up'])
  order.push('first done')
  r1()
  const r2 = await p2
  assert.equal(order, ['gave up', 'first done', 'second'])
  r2()
  await p4
  assert.equal(order, ['gave up', 'first done', 'second', 'fourth'])
})

test('effects_branches globs as fnmatch', () => {
  assert.ok(globMatches('release-*', 'release-1.2'))
  assert.ok(globMatches('release/*', 'release/a/b'))
  assert.not.ok(globMatches('release-*', 'main'))
  assert.ok(globMatches('v?.x', 'v1.x'))
  assert.ok(globMatches('[ab]-*', 'b-1'))
  assert.not.ok(globMatches('[!ab]-*', 'b-1'))
  assert.ok(globMatches('a.b', 'a.b'))
  assert.not.ok(globMatches('a.b', 'axb'))
})

test.run()
