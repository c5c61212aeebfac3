import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { execa } from 'execa'
import { ConfigError, createKey, defineMaster, definePlugin, localWorker, resolveConfig, z } from '../../core/index.ts'
import { firstPartyPlugins } from '../../plugins/first-party.ts'

const root = resolve(import.meta.dirname, '../..')
const cli = join(root, 'bin/buildbot-nix.mjs')
const FILE = '/x/master.config.ts'

async function errorsOf(input: unknown): Promise<string[]> {
  try { await resolveConfig(input, FILE) } catch (e) {
    assert.instance(e, ConfigError)
    return (e as ConfigError).lines
  }
  assert.unreachable('the config was accepted')
  return []
}

test('schema mistakes: key path, did you mean, wrong types named, every one at once', async () => {
  const lines = await errorsOf({
    titel: 'x',
    www: { port: '8010', hots: '0.0.0.0', access: 'secret' },
    collapseRequests: 'yes',
    properties: [],
    workers: [localWorker({ name: 'ok' }), { name: 'plain' }, localWorker({ name: 'a b' }), localWorker({ name: 'w', maxBuild: 2 } as never)],
    protocols: { msgpack: { port: 70000 } },
    buildbotURL: 'not a url',
    logLevel: 'loud',
  })
  const want = [
    `${FILE}: titel: unknown key 'titel' (did you mean 'title'?); remove it or fix its name`,
    `${FILE}: www.port: must be a number, got string (e.g. 8010)`,
    `${FILE}: www.access: must be one of 'public', 'private', got 'secret'`,
    `${FILE}: www.hots: unknown key 'hots' (did you mean 'host'?); remove it or fix its name`,
    `${FILE}: collapseRequests: must be true or false, got string`,
    `${FILE}: properties: must be an object, got array`,
    `${FILE}: workers[1]: must be made with worker({...}) or localWorker({...})`,
    `${FILE}: workers[2].name: 'a b' is not a valid worker name (letters, digits, _ . - only)`,
    `${FILE}: workers[3].maxBuild: unknown key 'maxBuild' (did you mean 'maxBuilds'?); remove it or fix its name`,
    `${FILE}: protocols.msgpack.port: must be a port number 0-65535, got 70000`,
    `${FILE}: buildbotURL: 'not a url' is not a URL; use e.g. 'https://ci.example.org/'`,
    `${FILE}: logLevel: must be one of 'trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent', got 'loud'`,
  ]
  for (const w of want) assert.ok(lines.includes(w), `missing:\n${w}\nin:\n${lines.join('\n')}`)
  assert.is(lines.length, want.length, lines.join('\n'))
})

test('values made by functions are checked as such', async () => {
  const lines = await errorsOf({ builders: [{ name: 'x', workers: [], steps: [] }], schedulers: ['force'], secretsProviders: [{}], changeSources: [() => 1] })
  assert.equal([...lines].sort(), [
    `${FILE}: changeSources[0]: must be made with changes.gitPoller({...})`,
    `${FILE}: schedulers[0]: must be made with schedulers.force(), schedulers.singleBranch(), ...`,
    `${FILE}: builders[0]: must be made with builder({...})`,
    `${FILE}: secretsProviders[0]: must be made with secretsFromDir(), secretsFromEnv() or secretsFromObject()`,
  ].sort())
})

test('plugin options: a zod schema types setup, checks the options with the rest, and keeps bad options from setup', async () => {
  const ran: string[] = []
  const ToolKey = createKey<{ n: number }>('tool')
  const tool = definePlugin({
    name: 'tool', provides: [ToolKey],
    options: z.strictObject({ count: z.number().int().min(1), label: z.string().optional() }),
    setup(api, o) {
      const count: number = o.count // inferred from the schema
      ran.push(`tool ${count}`)
      api.provide(ToolKey, { n: count })
    },
  })
  const user = definePlugin<{}>({ name: 'user', requires: [ToolKey], setup(api) { ran.push(`user ${api.use(ToolKey).n}`) } })
  await resolveConfig(defineMaster({ plugins: [user({}), tool({ count: 3 })] }), FILE)
  assert.equal(ran, ['tool 3', 'user 3'])
  ran.length = 0
  const lines = await errorsOf(defineMaster({ title: 7 as never, plugins: [user({}), tool({ count: '3', lable: 'x' } as never)] }))
  assert.equal(lines, [
    `${FILE}: title: must be a string, got number (e.g. 'CI')`,
    `${FILE}: [plugin tool] plugins[1].count: must be a number, got string`,
    `${FILE}: [plugin tool] plugins[1].lable: unknown key 'lable' (did you mean 'label'?); remove it or fix its name`,
  ])
  assert.equal(ran, [], 'setup ran with bad options, or a plugin that needs it did')
})

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-schema-'))
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }))
}

test('checkconfig prints the schema mistakes with file, key and fix, and exits 1', () => withDir(async (dir) => {
  const file = join(dir, 'master.config.ts')
  writeFileSync(file, `import { defineMaster, localWorker } from ${JSON.stringify(join(root, 'core/index.ts'))}
import { nix } from ${JSON.stringify(join(root, 'plugins/nix/index.ts'))}
export default defineMaster({
  www: { prot: 8010 },
  workers: [localWorker({ name: 'local' })],
  plugins: [nix({ workers: 'local', projects: [{ name: 'a/b', url: '/r', pollInterval: '60' }] } as any)],
})
`)
  const res = await execa('node', [cli, 'checkconfig', '-c', file], { reject: false })
  assert.is(res.exitCode, 1, res.stdout)
  const lines = res.stderr.trim().split('\n')
  assert.equal(lines, [
    `${file}: www.prot: unknown key 'prot' (did you mean 'port'?); remove it or fix its name`,
    `${file}: [plugin nix] plugins[0].projects[0].pollInterval: must be a number, got string (e.g. 60)`,
    `${file}: [plugin nix] plugins[0].workers: list the worker names the nix builders may use, e.g. workers: ['local']`,
    '3 error(s); the master was not started',
  ])
}))

test('config-schema prints JSON Schema of the config with the first-party plugins\' options', async () => {
  const res = await execa('node', [cli, 'config-schema'], { reject: false })
  assert.is(res.exitCode, 0, res.stderr)
  const schema = JSON.parse(res.stdout)
  assert.is(schema.$schema, 'https://json-schema.org/draft/2020-12/schema')
  assert.is(schema.type, 'object')
  assert.is(schema.additionalProperties, false)
  assert.equal(schema.properties.www.properties.port, { description: schema.properties.www.properties.port.description, type: 'integer', minimum: 0, maximum: 65535, examples: [8010] })
  assert.equal(schema.properties.www.properties.access.enum, ['public', 'private'])
  assert.is(schema.properties.workers.items.properties.name.type, 'string')
  assert.match(schema.properties.builders.items.description, /builder\(\{/)
  assert.not.ok('__master' in schema.properties)
  const nixEntry = schema.properties.plugins.items.anyOf.find((p: { title: string }) => p.title === 'nix')
  assert.ok(nixEntry, 'the nix plugin is listed')
  const opts = nixEntry.properties.options
  assert.equal(opts.required.sort(), ['projects', 'workers'])
  assert.is(opts.properties.evalWorkerCount.type, 'integer')
  assert.equal(opts.properties.projects.items.required, ['name', 'url'])
  assert.is(opts.additionalProperties, false)
  const githubEntry = schema.properties.plugins.items.anyOf.find((p: { title: string }) => p.title === 'github')
  assert.equal(githubEntry.properties.options.required.sort(), ['appId', 'appSecretKeyFile', 'webhookSecretFile'])
  assert.is(githubEntry.properties.options.properties.topic.default, 'build-with-buildbot')
})

test('config-schema --config also describes the plugins that config uses', () => withDir(async (dir) => {
  const file = join(dir, 'master.config.ts')
  writeFileSync(file, `import { defineMaster, definePlugin, z } from ${JSON.stringify(join(root, 'core/index.ts'))}
const greeter = definePlugin({ name: 'greeter', options: z.strictObject({ greeting: z.string().meta({ description: 'what to say' }) }), setup() {} })
export default defineMaster({ plugins: [greeter({ greeting: 'hi' })] })
`)
  const res = await execa('node', [cli, 'config-schema', '-c', file], { reject: false })
  assert.is(res.exitCode, 0, res.stderr)
  const entries = JSON.parse(res.stdout).properties.plugins.items.anyOf as { title: string; properties: { options: { properties: Record<string, { description?: string }> } } }[]
  assert.equal(entries.map((e) => e.title).sort(), ['greeter', ...firstPartyPlugins.map((p) => p.definition.name)].sort())
  assert.is(entries.find((e) => e.title === 'greeter')!.properties.options.properties.greeting!.description, 'what to say')
}))

test.run()
