import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { execa } from 'execa'
import { resolveConfig } from '../../core/config/resolve.ts'
import { ConfigError } from '../../core/config/errors.ts'
import { loadConfig } from '../../core/config/load.ts'
import { testDatabases } from '../support/databases.ts'

const root = resolve(import.meta.dirname, '../..')
const index = join(root, 'core/index.ts')
const cli = join(root, 'bin/buildbot-nix.mjs')

/** A config with one mistake of each kind; every one must be reported in a single run. */
const BAD = `import { defineMaster, localWorker, worker, builder, steps, schedulers, definePlugin, createKey } from ${JSON.stringify(index)}
const CacheKey = createKey<{ push(p: string): void }>('cache')
const needsCache = definePlugin<{}>({ name: 'needs-cache', requires: [CacheKey], setup() {} })
const twice = definePlugin<{}>({ name: 'twice', setup() {} })
export default defineMaster({
  titel: 'typo',
  www: { port: 9989 },
  protocols: { msgpack: { port: 9989 } },
  db: 'mysql://nope',
  workers: [localWorker({ name: 'local' }), localWorker({ name: 'local' }), worker({ name: 'remote' } as any)],
  builders: [
    builder({ name: 'a', workers: ['locl'], steps: [steps.shell({ command: ['true'] })] }),
    builder({ name: 'a', workers: ['local'], steps: [steps.shell({ command: ['true'] })] }),
    builder({ name: 'empty', workers: ['local'], steps: [] }),
    builder({ name: 'nonstep', workers: ['local'], steps: [{ command: 'make' } as any] }),
    builder({ name: 'fan', workers: ['local'], steps: [steps.trigger({ schedulerNames: ['force'] })] }),
    builder({ name: 'nocmd', workers: ['local'], steps: [steps.shell({} as any)] }),
  ],
  schedulers: [
    schedulers.force({ name: 'force', builderNames: ['a', 'nosuch'] }),
    schedulers.nightly({ name: 'nightly', builderNames: ['a'], cron: 'every tuesday' }),
    schedulers.nightly({ name: 'tz', builderNames: ['a'], cron: '0 3 * * *', timezone: 'Mars/Olympus' }),
    schedulers.periodic({ name: 'spin', builderNames: ['a'], periodicBuildTimer: 0 }),
    schedulers.triggerable({ name: 'nobody', builderNames: [] }),
  ],
  plugins: [needsCache({}), twice({}), twice({})],
})
`

/** path → what the message must say (a hint at the fix included). */
const EXPECTED: [string, RegExp][] = [
  ['titel', /unknown key 'titel' \(did you mean 'title'\?\); remove it/],
  ['protocols.msgpack.port', /port 9989 is also www.port; give the worker protocol its own port/],
  ['db', /unsupported database url 'mysql:\/\/nope': use 'sqlite:<file>'/],
  ['workers[1].name', /duplicate worker name 'local'; worker names must be unique/],
  ['workers[2].password', /a remote worker needs a password: worker\(\{ name, password: secret/],
  ['builders[0].workers[0]', /no worker named 'locl' \(did you mean 'local'\?\)/],
  ['builders[1].name', /duplicate builder name 'a' \(also builders\[0\]\)/],
  ['builders[2].steps', /a builder needs at least one step, e.g. steps.shell/],
  ['builders[3].steps[0]', /must be a step made with steps.shell\(\)/],
  ['builders[4].steps[0].schedulerNames[0]', /scheduler 'force' is a force scheduler; a Trigger step needs schedulers.triggerable/],
  ['schedulers[0].builderNames[1]', /no builder named 'nosuch'/],
  ['schedulers[1].cron', /invalid cron expression 'every tuesday'/],
  ['schedulers[2].timezone', /unknown time zone 'Mars\/Olympus'; use an IANA name/],
  ['schedulers[3].periodicBuildTimer', /must be a number of seconds above zero, got 0/],
  ['schedulers[4].builderNames', /scheduler 'nobody' names no builder; list at least one/],
  ['builders[5].steps[0].command', /a shell step needs a command, e.g. steps.shell/],
  ['plugins[0]', /requires 'cache', which no configured plugin provides; add that plugin to 'plugins'/],
  ['plugins[2]', /plugin 'twice' is listed twice \(also plugins\[1\]\); keep one/],
]

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-config-'))
  // As in a project directory: the config is an ES module.
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }))
}

test('a config with 18 mistakes reports all of them at once, each with file, key path and fix', () => withDir(async (dir) => {
  const file = join(dir, 'master.config.ts')
  writeFileSync(file, BAD)
  let err: unknown
  try { await loadConfig(file) } catch (e) { err = e }
  assert.instance(err, ConfigError)
  const ce = err as ConfigError
  for (const [path, re] of EXPECTED) {
    const line = ce.lines.find((l) => l.startsWith(`${file}: ${path}: `))
    assert.ok(line, `no error for '${path}' in:\n${ce.lines.join('\n')}`)
    assert.match(line!, re)
  }
  assert.is(ce.lines.length, EXPECTED.length, `unexpected extra errors:\n${ce.lines.join('\n')}`)
  assert.match(ce.message, new RegExp(`^${EXPECTED.length} configuration errors:`))
}))

test('a bad www port is reported with the range', async () => {
  try { await resolveConfig({ www: { port: 70000 } }, '/x/m.ts'); assert.unreachable() } catch (e) {
    assert.equal((e as ConfigError).lines, ['/x/m.ts: www.port: must be a port number 0-65535, got 70000'])
  }
})

test('resolveConfig refuses a non-object and a wrong section type without starting anything', async () => {
  try { await resolveConfig(undefined, '/x/master.config.ts'); assert.unreachable() } catch (e) {
    assert.match((e as ConfigError).lines[0]!, /^\/x\/master.config.ts: the default export must be defineMaster/)
  }
  try { await resolveConfig({ builders: 'x', workers: {} }, '/x/m.ts'); assert.unreachable() } catch (e) {
    const lines = (e as ConfigError).lines
    assert.ok(lines.some((l) => l === '/x/m.ts: builders: must be an array, got string'), lines.join('\n'))
    assert.ok(lines.some((l) => l === '/x/m.ts: workers: must be an array, got object'), lines.join('\n'))
  }
})

const GOOD = (db: string) => `import { defineMaster, localWorker, builder, steps, schedulers } from ${JSON.stringify(index)}
export default defineMaster({
  db: ${JSON.stringify(db)},
  www: { port: 0 },
  workers: [localWorker({ name: 'local' })],
  builders: [builder({ name: 'hello', workers: ['local'], steps: [steps.shell({ command: ['echo', 'hi'] })] })],
  schedulers: [schedulers.force({ name: 'force', builderNames: ['hello'] }), schedulers.nightly({ name: 'n', builderNames: ['hello'], cron: '0 3 * * *' })],
})
`

for (const db of testDatabases()) {
  test(`[${db.name}] a good config resolves frozen, and checkconfig exits 0`, () => withDir(async (dir) => {
    const url = await db.url(dir)
    try {
      const file = join(dir, 'master.config.ts')
      writeFileSync(file, GOOD(url))
      const cfg = await loadConfig(file)
      assert.ok(Object.isFrozen(cfg))
      assert.is(cfg.db, url)
      assert.is(cfg.basedir, join(dir, 'state'))
      assert.equal(cfg.builders.map((b) => b.value.name), ['hello'])
      const res = await execa('node', [cli, 'checkconfig', '-c', file], { reject: false })
      assert.is(res.exitCode, 0, res.stderr)
      assert.match(res.stdout, /config OK \(1 builders, 2 schedulers, 1 workers\)/)
    } finally { await db.cleanup() }
  }))
}

test('checkconfig on the bad file exits 1 and prints every mistake', () => withDir(async (dir) => {
  const file = join(dir, 'master.config.ts')
  writeFileSync(file, BAD)
  const res = await execa('node', [cli, 'checkconfig', '-c', file], { reject: false })
  assert.is(res.exitCode, 1)
  for (const [path, re] of EXPECTED) {
    const line = res.stderr.split('\n').find((l) => l.startsWith(`${file}: ${path}: `))
    assert.ok(line, `checkconfig did not print '${path}':\n${res.stderr}`)
    assert.match(line!, re)
  }
  assert.match(res.stderr, new RegExp(`${EXPECTED.length} error\\(s\\); the master was not started`))
}))

test('checkconfig names a missing file and a file that fails to load', () => withDir(async (dir) => {
  const missing = await execa('node', [cli, 'checkconfig', '-c', join(dir, 'nope.ts')], { reject: false })
  assert.is(missing.exitCode, 1)
  assert.match(missing.stderr, /nope.ts: no such file/)
  const broken = join(dir, 'broken.ts')
  writeFileSync(broken, 'export default defineMaster({')
  const res = await execa('node', [cli, 'checkconfig', '-c', broken], { reject: false })
  assert.is(res.exitCode, 1)
  assert.match(res.stderr, /broken.ts: failed to load/)
}))

test('--help works on every command', async () => {
  const top = await execa('node', [cli, '--help'], { reject: false })
  assert.is(top.exitCode, 0)
  assert.match(top.stdout, /Commands:/)
  for (const cmd of ['start', 'checkconfig', 'hash-password', 'config-schema']) {
    const res = await execa('node', [cli, cmd, '--help'], { reject: false })
    assert.is(res.exitCode, 0, `${cmd} --help: ${res.stderr}`)
    assert.match(res.stdout, new RegExp(`^Usage: buildbot-nix ${cmd}`))
  }
  const unknown = await execa('node', [cli, 'frobnicate'], { reject: false })
  assert.is(unknown.exitCode, 1)
  assert.match(unknown.stderr, /unknown command 'frobnicate'/)
})

test.run()
