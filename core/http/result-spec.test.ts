import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { applyInMemory, parseResultSpec, QueryError, type ResourceType } from './result-spec.ts'
import { PathTable, splitApiPath } from './path-match.ts'

const type: ResourceType = { plural: 'things', fields: { id: 'int', name: 'str', on: 'bool', tags: 'list', at: 'epoch', slug: 'ident' } }
const q = (s: string) => [...new URLSearchParams(s)]

test('path patterns: exact segment count, typed placeholders, first match wins', () => {
  const t = new PathTable<string>().add('builders/n:builderid', 'id').add('builders/s:buildername', 'name').add('a/i:x', 'ident').add(':any/raw', 'untyped')
  assert.equal(t.find(['builders', '12']), { value: 'id', args: { builderid: 12 }, pattern: 'builders/n:builderid' })
  assert.is(t.find(['builders', 'b-1'])!.value, 'name')
  assert.is(t.find(['builders', '12', 'x']), undefined)
  assert.is(t.find(['a', '1abc']), undefined)
  assert.equal(t.find(['a', 'x.y'])!.args, { x: 'x.y' })
  assert.equal(t.find(['7', 'raw'])!.args, { any: '7' })
  assert.equal(splitApiPath(''), [])
  assert.equal(splitApiPath('/builds/'), ['builds', ''])
  assert.equal(splitApiPath('/builders/a%20b'), ['builders', 'a b'])
})

test('values are parsed by field type; repeated keys kept, never comma-split', () => {
  const s = parseResultSpec(q('id=1&id=2&name=a,b&on=Yes&at__gt=5&slug=x_y&limit=3&offset=1&order=-id&property=*'), type, { collection: true })
  assert.equal(s.filters, [
    { field: 'id', op: 'eq', values: [1, 2] }, { field: 'name', op: 'eq', values: ['a,b'] }, { field: 'on', op: 'eq', values: [true] },
    { field: 'at', op: 'gt', values: [5] }, { field: 'slug', op: 'eq', values: ['x_y'] },
  ])
  assert.equal([s.limit, s.offset, s.order, s.properties], [3, 1, [{ field: 'id', desc: true }], ['*']])
  assert.throws(() => parseResultSpec(q('slug=1x'), type, { collection: true }), (e: unknown) => e instanceof QueryError && e.message === 'invalid filter value for slug')
  assert.throws(() => parseResultSpec(q('id__lt=1&id__lt=2'), type, { collection: true }), (e: unknown) => e instanceof QueryError)
})

test('in-memory filters: contains on strings is a substring test, on lists membership', () => {
  const items = [{ id: 1, name: 'alpha', tags: ['x'] }, { id: 2, name: 'beta', tags: ['y', 'x'] }, { id: 3, name: 'gamma', tags: [] }]
  const run = (s: string) => applyInMemory(items, parseResultSpec(q(s), type, { collection: true })).items.map((i) => i.id)
  assert.equal(run('name__contains=ph&name__contains=mm'), [1, 3])
  assert.equal(run('name__contains=ab'), [])
  assert.equal(run('tags__contains=x'), [1, 2])
  assert.equal(run('id__notin=1&id__notin=3'), [2])
  assert.equal(run('order=-name&limit=2'), [3, 2])
  assert.is(applyInMemory(items, parseResultSpec(q('limit=1'), type, { collection: true })).total, 3)
})

test.run()
