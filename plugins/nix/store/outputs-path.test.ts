import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { outputPathFile, quotePlus, writeOutputPath } from './outputs-path.ts'

const tmp = mkdtempSync(join(tmpdir(), 'outputs-path-'))

test('writes the latest out path per attribute', async () => {
  const loc = { owner: 'nix community', repo: 'srvos', branch: 'main', attr: 'x86_64-linux.foo' }
  const file = await writeOutputPath(tmp, loc, '/nix/store/a-foo')
  assert.is(file, join(tmp, 'nix+community', 'srvos', 'main', 'x86_64-linux.foo'))
  await writeOutputPath(tmp, loc, '/nix/store/b-foo')
  assert.is(readFileSync(file, 'utf8'), '/nix/store/b-foo')
  assert.is(outputPathFile(tmp, { ...loc, branch: 'feature/x' }), join(tmp, 'nix+community', 'srvos', 'feature', 'x', 'x86_64-linux.foo'))
})

test('refuses traversal in any component', () => {
  const ok = { owner: 'o', repo: 'r', branch: 'main', attr: 'a' }
  for (const bad of [{ repo: '..' }, { branch: '../x' }, { attr: '..' }, { attr: 'a/b' }, { repo: '' }, { branch: 'a//b' }, { branch: '/etc' }, { attr: '.' }]) {
    assert.throws(() => outputPathFile(tmp, { ...ok, ...bad }), /unsafe|may not contain/, JSON.stringify(bad))
  }
  assert.is(quotePlus('../x'), '..%2Fx')
  assert.throws(() => outputPathFile(tmp, { ...ok, owner: '..' }), /unsafe/)
  assert.is(outputPathFile(tmp, { ...ok, owner: 'a/b' }), join(tmp, 'a%2Fb', 'r', 'main', 'a'))
})

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
