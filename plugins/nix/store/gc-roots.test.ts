import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../../test/support/tools.ts'
import { makeFlakeRepo } from '../../../test/fixtures/nix/make-flake.ts'
import { createHash } from 'node:crypto'
import { attrOfGcRootName, autoRootsDir, gcRootName, nixBase32, outputRoots, gcRootPointsAt, gcRootTarget, registerGcRoot, removeStaleGcRoots } from './gc-roots.ts'
import { createGcRootBatcher } from '../gc-root-batcher.ts'
import { drvsExist, validPaths } from './store-validity.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const tmp = mkdtempSync(join(tmpdir(), 'gc-roots-'))
let outA = '', outB = '', drvA = '', missingOut = ''

test.before(() => {
  if (!hasNix) return
  makeFlakeRepo(join(tmp, 'repo'), { checks: { a: {}, b: {}, never: {} } })
  const build = (n: string): { drvPath: string; outputs: { out: string } } =>
    JSON.parse(execFileSync('nix', ['build', '--json', '--no-link', `git+file://${join(tmp, 'repo')}#checks.x86_64-linux.${n}`], { encoding: 'utf8' }))[0]
  const a = build('a')
  outA = a.outputs.out; drvA = a.drvPath
  outB = build('b').outputs.out
  missingOut = execFileSync('nix', ['eval', '--raw', `git+file://${join(tmp, 'repo')}#checks.x86_64-linux.never.outPath`], { encoding: 'utf8' })
})

test('root names cannot escape the directory and round-trip', () => {
  for (const attr of ['x86_64-linux.foo', 'a/b', '..', '.', '../../etc/passwd', '%2F', '.hidden']) {
    const name = gcRootName(attr)
    assert.not.ok(name.includes('/'), attr)
    assert.not.ok(name === '.' || name === '..' || name.startsWith('.'), attr)
    assert.is(attrOfGcRootName(name), attr)
  }
  assert.throws(() => gcRootName(''))
  assert.is(gcRootName('x86_64-linux.a', 'dev'), 'x86_64-linux.a!dev')
  assert.is(attrOfGcRootName(gcRootName('we!rd', 'dev')), 'we!rd')
  assert.not.ok(gcRootName('a!dev') === gcRootName('a', 'dev'), 'an attribute cannot pose as another one\'s output')
  assert.throws(() => gcRootName('a', '../x'))
  assert.equal(outputRoots({ dev: '/nix/store/d', out: '/nix/store/o', doc: null }), [{ path: '/nix/store/o' }, { output: 'dev', path: '/nix/store/d' }])
  assert.equal(outputRoots({ bin: '/nix/store/b', lib: '/nix/store/l' }), [{ path: '/nix/store/b' }, { output: 'lib', path: '/nix/store/l' }])
})

test('registers, detects and replaces a root; refuses to clobber a directory', async () => {
  if (!hasNix) return
  const dir = join(tmp, 'roots', 'owner', 'repo')
  assert.is(await gcRootTarget(dir, 'x86_64-linux.a'), undefined)
  assert.is(await registerGcRoot(dir, 'x86_64-linux.a', outA), 'created')
  assert.is(readlinkSync(join(dir, 'x86_64-linux.a')), outA)
  assert.ok(await gcRootPointsAt(dir, 'x86_64-linux.a', outA))
  assert.is(await registerGcRoot(dir, 'x86_64-linux.a', outA), 'unchanged')
  assert.is(await registerGcRoot(dir, 'x86_64-linux.a', outB), 'updated')
  assert.is(readlinkSync(join(dir, 'x86_64-linux.a')), outB)
  // nix registered it: an indirect root pointing at our symlink
  const auto = readdirSync('/nix/var/nix/gcroots/auto').map((n) => readlinkSync(join('/nix/var/nix/gcroots/auto', n)))
  assert.ok(auto.includes(join(dir, 'x86_64-linux.a')))
  mkdirSync(join(dir, 'handmade'))
  try { await registerGcRoot(dir, 'handmade', outA); assert.unreachable() } catch (e) {
    assert.match((e as Error).message, /exists and is not a symlink \(a directory\); remove it by hand/)
  }
  try { await registerGcRoot(dir, 'x86_64-linux.never', missingOut); assert.unreachable() } catch (e) {
    assert.match((e as Error).message, /nix-store --add-root/)
  }
})

test('the root batcher points roots without running nix, registered as nix registers them; the collector sees them', async () => {
  if (!hasNix) return
  // nix's own registration names the indirect link by the SHA-1 of the root path, in nix's base 32.
  const byNix = join(tmp, 'by-nix')
  await registerGcRoot(byNix, 'x86_64-linux.a', outA)
  assert.is(readlinkSync(join(autoRootsDir(), nixBase32(createHash('sha1').update(join(byNix, 'x86_64-linux.a')).digest()))), join(byNix, 'x86_64-linux.a'))
  const dir = join(tmp, 'batched')
  const roots = createGcRootBatcher({ delayMs: 1 })
  const listed = (): string => execFileSync('nix-store', ['--gc', '--print-roots'], { encoding: 'utf8', maxBuffer: 64 << 20 })
  assert.is(await roots.register(dir, 'x86_64-linux.a', outA), 'created')
  assert.is(await roots.register(dir, 'x86_64-linux.a', outB, 'dev'), 'created')
  assert.is(await roots.register(dir, 'x86_64-linux.a', outA), 'unchanged')
  let all = listed()
  assert.ok(all.includes(`${join(dir, 'x86_64-linux.a')} -> ${outA}`), 'the collector lists the new root')
  assert.ok(all.includes(`${join(dir, 'x86_64-linux.a!dev')} -> ${outB}`))
  assert.is(await roots.register(dir, 'x86_64-linux.a', outB), 'updated')
  all = listed()
  assert.ok(all.includes(`${join(dir, 'x86_64-linux.a')} -> ${outB}`), 'the collector follows the re-pointed root')
  assert.not.ok(readdirSync(dir).some((n) => n.includes('.tmp-')), 'no temporary link is left behind')
})

test('removes the roots of attributes that are gone, and nothing else', async () => {
  const dir = join(tmp, 'stale')
  mkdirSync(dir, { recursive: true })
  symlinkSync('/nix/store/x-keep', join(dir, gcRootName('keep')))
  symlinkSync('/nix/store/x-old', join(dir, gcRootName('old/one')))
  symlinkSync('/nix/store/x-old-dev', join(dir, gcRootName('old/one', 'dev')))
  symlinkSync('/nix/store/x-keep-dev', join(dir, gcRootName('keep', 'dev')))
  writeFileSync(join(dir, 'notes.txt'), 'x')
  assert.equal(await removeStaleGcRoots(dir, ['keep']), ['old/one'])
  assert.ok(lstatSync(join(dir, 'keep')).isSymbolicLink())
  assert.ok(lstatSync(join(dir, 'keep!dev')).isSymbolicLink())
  assert.not.ok(existsSync(join(dir, gcRootName('old/one', 'dev'))))
  assert.ok(existsSync(join(dir, 'notes.txt')))
  assert.equal(await removeStaleGcRoots(join(tmp, 'none'), []), [])
})

test('store validity in batches, with a malformed path in a batch', async () => {
  if (!hasNix) return
  const valid = await validPaths([outA, missingOut, outB, 'not-a-store-path', drvA], { batchSize: 2 })
  assert.equal([...valid].sort(), [outA, outB, drvA].sort())
  assert.ok(await drvsExist([drvA]))
  assert.not.ok(await drvsExist([drvA, drvA.replace(/-a\.drv$/, '-zz.drv')]))
})

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
