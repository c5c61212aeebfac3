import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '../..')

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) files(p, out)
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p)
  }
  return out
}

const importsOf = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2])!)

/** Where a plugin file may import from: its own folder, core's public surface, another plugin's index, packages. */
function allowed(file: string, spec: string, pluginDir: string): boolean {
  if (!spec.startsWith('.')) return !spec.startsWith('buildbot-nix/') || /^buildbot-nix\/plugins\/[a-z0-9-]+$/.test(spec)
  const target = resolve(dirname(file), spec)
  if (target.startsWith(pluginDir + '/')) return true
  if (target === join(root, 'core/index.ts')) return true
  return /^plugins\/[a-z0-9-]+\/index\.ts$/.test(relative(root, target))
}

test('plugins reach core only through core/index.ts and other plugins only through their index', () => {
  const bad: string[] = []
  for (const name of readdirSync(join(root, 'plugins'))) {
    const dir = join(root, 'plugins', name)
    if (!statSync(dir).isDirectory()) continue
    for (const f of files(dir)) for (const spec of importsOf(f)) if (!allowed(f, spec, dir)) bad.push(`${relative(root, f)} imports ${spec}`)
  }
  assert.equal(bad, [])
})

test('no plugin queries the database with raw kysely calls on core tables', () => {
  const bad: string[] = []
  for (const f of files(join(root, 'plugins'))) {
    const src = readFileSync(f, 'utf8')
    for (const m of src.matchAll(/\bdata\.db\b|\.db\.k\b/g)) bad.push(`${relative(root, f)}: ${src.slice(Math.max(0, m.index! - 30), m.index! + 40).replace(/\s+/g, ' ')}`)
  }
  assert.equal(bad, [])
})

test('the example plugin imports only core/index.ts and the Nix plugin', () => {
  const dir = join(root, 'test/fixtures/example-plugin')
  const bad: string[] = []
  for (const f of files(dir)) {
    for (const spec of importsOf(f)) {
      if (!spec.startsWith('.')) { if (!spec.startsWith('node:')) bad.push(`${relative(root, f)} imports ${spec}`); continue }
      const target = resolve(dirname(f), spec)
      if (!target.startsWith(dir + '/') && target !== join(root, 'core/index.ts') && target !== join(root, 'plugins/nix/index.ts')) bad.push(`${relative(root, f)} imports ${spec}`)
    }
  }
  assert.ok(files(dir).length > 0, 'test/fixtures/example-plugin has no files')
  assert.equal(bad, [])
})

test.run()
