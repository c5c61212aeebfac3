import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHook } from './hooks.ts'

test('handlers run in tap order; a throwing or rejecting handler is reported and the others still run', async () => {
  const errors: string[] = []
  const hook = createHook<{ n: number }>('numbers', { onError: (err, name) => errors.push(`${name}: ${(err as Error).message}`) })
  const seen: string[] = []
  hook.tap((e) => { seen.push(`a${e.n}`) })
  hook.tap(() => { throw new Error('sync boom') })
  hook.tap(async (e) => { await new Promise((r) => setImmediate(r)); seen.push(`c${e.n}`) })
  hook.tap(async () => { throw new Error('async boom') })
  hook.tap((e) => { seen.push(`e${e.n}`) })
  await hook.call({ n: 1 })
  assert.equal(seen, ['a1', 'c1', 'e1'])
  assert.equal(errors, ['numbers: sync boom', 'numbers: async boom'])
  assert.is(hook.size, 5)
})

test('untap (or the function tap returns) removes a handler; call with none tapped resolves', async () => {
  const hook = createHook<string>('s')
  await hook.call('nobody listens')
  const seen: string[] = []
  const a = (s: string): void => { seen.push(`a:${s}`) }
  const untapB = hook.tap((s) => { seen.push(`b:${s}`) })
  hook.tap(a)
  await hook.call('1')
  hook.untap(a)
  untapB()
  await hook.call('2')
  assert.equal(seen, ['b:1', 'a:1'])
  assert.is(hook.size, 0)
})

test('a handler that taps or untaps while the hook is called affects the next call only', async () => {
  const hook = createHook<number>('n')
  const seen: number[] = []
  const late = (n: number): void => { seen.push(n * 10) }
  hook.tap((n) => { seen.push(n); hook.tap(late) })
  await hook.call(1)
  assert.equal(seen, [1])
  await hook.call(2)
  assert.equal(seen, [1, 2, 20])
})

test.run()
