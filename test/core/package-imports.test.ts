import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { execa } from 'execa'

const root = resolve(import.meta.dirname, '../..')
const cli = join(root, 'bin/buildbot-nix.mjs')

test('a config outside the checkout imports core and first-party plugins by package name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-pkg-'))
  try {
    const file = join(dir, 'master.config.ts')
    writeFileSync(file, `import { defineMaster, localWorker } from 'buildbot-nix'
import { nix } from 'buildbot-nix/plugins/nix'
export default defineMaster({
  workers: [localWorker({ name: 'local' })],
  plugins: [nix({ workers: ['local'], projects: [{ name: 'demo', url: '/srv/git/demo' }] })],
})
`)
    const res = await execa('node', [cli, 'checkconfig', '-c', file], { reject: false })
    assert.is(res.exitCode, 0, res.stderr)
    assert.match(res.stdout, /config OK/)
    writeFileSync(file, `import { nix } from 'buildbot-nix/plugins/nosuch'\nexport default nix\n`)
    const bad = await execa('node', [cli, 'checkconfig', '-c', file], { reject: false })
    assert.is(bad.exitCode, 1)
    assert.match(bad.stderr, /plugins\/nosuch/)
  } finally { rmSync(dir, { recursive: true, force: true }) }
})

test('package.json exports every first-party plugin by its folder', async () => {
  const pkg = JSON.parse((await import('node:fs')).readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string> }
  assert.is(pkg.exports['./plugins/*'], './plugins/*/index.ts')
  assert.is(pkg.exports['.'], './core/index.ts')
})

test.run()
