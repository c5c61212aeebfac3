import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseBasicAuth } from './basic-auth.ts'
import { expandUser, translateArgs } from './command-args.ts'

const posixInfo = { system: 'posix', basedir: '/w', environ: { HOME: '/home/bb' } }

test('relative path keys resolve against the builder directory; absolute ones stay', () => {
  const args = { workdir: 'build', path: 'out/x', paths: ['a', '/abs'], from_path: '../up', to_path: '/t', command: ['ls'] }
  const out = translateArgs(args, '/w/b1', posixInfo)
  assert.equal(out, { workdir: '/w/b1/build', path: '/w/b1/out/x', paths: ['/w/b1/a', '/abs'], from_path: '/w/up', to_path: '/t', command: ['ls'] })
  assert.is(args.workdir, 'build', 'the input is not modified')
})

test('a single string in paths becomes a list; writer/reader are dropped; want_* become booleans', () => {
  const out = translateArgs({ paths: 'd', writer: {}, reader: {}, want_stdout: 0, want_stderr: 1 }, '/w/b', posixInfo)
  assert.equal(out, { paths: ['/w/b/d'], want_stdout: false, want_stderr: true })
})

test('~ expands with the worker\'s HOME; Windows workers use Windows paths', () => {
  assert.is(expandUser('~/x', posixInfo), '/home/bb/x')
  assert.is(expandUser('~other/x', posixInfo), '~other/x')
  assert.is(translateArgs({ path: '~/f' }, '/w/b', posixInfo).path, '/home/bb/f')
  const nt = { system: 'nt', environ: { USERPROFILE: 'C:\\Users\\bb' } }
  assert.equal(translateArgs({ workdir: 'build', path: 'D:\\abs' }, 'C:\\w\\b', nt), { workdir: 'C:\\w\\b\\build', path: 'D:\\abs' })
})

test('Basic auth parsing', () => {
  const b = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`
  assert.equal(parseBasicAuth(b('w1:pa:ss')), { name: 'w1', password: 'pa:ss' })
  assert.equal(parseBasicAuth(b('w1:')), { name: 'w1', password: '' })
  assert.is(parseBasicAuth(undefined), 'missing')
  assert.is(parseBasicAuth(b('nocolon')), 'invalid')
  assert.is(parseBasicAuth('Digest abc'), 'invalid')
  assert.is(parseBasicAuth(`Basic ${Buffer.from([0x77, 0x3a, 0xff]).toString('base64')}`), 'invalid')
})

test.run()
