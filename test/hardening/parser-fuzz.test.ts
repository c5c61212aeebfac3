import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseRepoConfig } from '../../plugins/nix/repo-config/repo-config.ts'
import { parseNixEvalJobsLine } from '../../plugins/nix/eval/nix-eval-jobs.ts'
import { EvalError } from '../../plugins/nix/eval/nix-evaluator.ts'
import { parseInternalJsonLine } from '../../plugins/nix/internal-json.ts'
import { HookInputError, parseBaseHookRequest } from '../../core/http/base-change-hook.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { ConfigError } from '../../core/config/errors.ts'
import { masterFromNixosOptions } from '../../nix/config/master-from-nixos.ts'
import { haveTool } from '../support/tools.ts'

// Property-based fuzzing of the parsers that read what others wrote: a repository's
// buildbot-nix.toml, nix-eval-jobs' output lines, the base change hook's bodies and master
// configs. Each either returns a typed value or fails with its own clean error (the kind the
// caller turns into a warning, a 400 or a config message), never anything else. Bounded.
const RUNS = Number(process.env.FUZZ_RUNS ?? 200)
const report = (what: string, n: number, errors: number) => console.log(`${what}: ${n} cases, ${errors} clean refusals, 0 unexpected errors`)

const tomlValue = fc.oneof(
  fc.constantFrom('"."', '"sub"', '"../x"', '"/abs"', '"a:b"', '"flake.lock"', '"other.lock"', 'true', 'false', '1', '-1', '1e400', '[]', '["main", "release-*"]', '[1, 2]', '{}', '"\\u0000"', '"x"'),
  fc.string({ maxLength: 10 }).map((s) => JSON.stringify(s)),
)
const tomlKey = fc.constantFrom('flake_dir', 'lock_file', 'attribute', 'effects_on_pull_requests', 'effects_branches', 'unknown', 'flake-dir', '"quoted"', '[table]')
const tomlText = fc.oneof(
  fc.record({ flake_dir: fc.constantFrom('"."', '"sub"'), attribute: fc.constantFrom('"checks"', '"hydraJobs"'), effects_on_pull_requests: fc.constantFrom('true', 'false'), effects_branches: fc.constantFrom('[]', '["release-*"]') }, { requiredKeys: [] })
    .map((o) => Object.entries(o).map(([k, v]) => `${k} = ${v}`).join('\n')),
  fc.array(fc.tuple(tomlKey, tomlValue).map(([k, v]) => `${k} = ${v}`), { maxLength: 6 }).map((l) => l.join('\n')),
  fc.string({ maxLength: 80 }),
  fc.constantFrom('[a]\n[a]', 'x = 1\nx = 2', 'flake_dir = ', '= 1', '\u0000', 'a = [1,', 'effects_branches = "main"'),
)

test('buildbot-nix.toml: any text gives a config and warnings, never an exception', () => {
  const root = mkdtempSync(join(tmpdir(), 'bbn-toml-'))
  let n = 0, warned = 0
  try {
    fc.assert(fc.property(tomlText, fc.boolean(), (text, isDefaultBranch) => {
      n++
      const r = parseRepoConfig(text, { checkoutRoot: root, isDefaultBranch })
      if (r.warnings.length) warned++
      assert.type(r.config.attribute, 'string')
      assert.ok(!r.config.flakeDir?.includes('..'), `flake_dir stays inside the checkout: ${r.config.flakeDir}`)
    }), { numRuns: RUNS })
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  console.log(`buildbot-nix.toml: ${n} cases, ${warned} with warnings (defaults kept), 0 exceptions`)
})

const jobValue = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string({ maxLength: 8 }), fc.constant(null), fc.integer()), { maxKeys: 3 }))
const storePath = fc.stringMatching(/^[a-z0-9]{4}$/).map((h) => `/nix/store/${h}-x`)
const validJob = fc.record({
  attr: fc.string({ minLength: 1, maxLength: 8 }),
  drvPath: storePath.map((p) => `${p}.drv`),
  outputs: fc.dictionary(fc.constantFrom('out', 'dev', 'lib'), fc.oneof(storePath, fc.constant(null)), { minKeys: 1, maxKeys: 3 }),
  system: fc.constantFrom('x86_64-linux', 'aarch64-linux'),
  cacheStatus: fc.constantFrom('cached', 'local', 'notBuilt', 'bogus'),
}, { requiredKeys: ['attr', 'drvPath'] }).map((o) => JSON.stringify(o))
const jobLine = fc.oneof(
  validJob,
  fc.record({ attr: fc.string({ maxLength: 8 }), error: fc.string({ maxLength: 20 }) }).map((o) => JSON.stringify(o)),
  fc.dictionary(fc.constantFrom('attr', 'attrPath', 'drvPath', 'outputs', 'error', 'system', 'name', 'cacheStatus', 'isCached', 'neededBuilds', 'inputDrvs', 'x'), jobValue, { maxKeys: 7 }).map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 60 }),
  fc.constantFrom('', '{', 'null', '[]', '{"attr":"a"}', '{"attr":"a","drvPath":"/nix/store/x.drv","outputs":{"out":5}}', '{"attrPath":["a",1],"drvPath":"x"}'),
)

test('nix-eval-jobs lines: a job or an EvalError of kind output, nothing else', () => {
  let n = 0, refused = 0
  fc.assert(fc.property(jobLine, (line) => {
    n++
    try {
      const job = parseNixEvalJobsLine(line)
      assert.type(job.attr, 'string')
      assert.ok(Array.isArray(job.attrPath) && job.attrPath.every((s) => typeof s === 'string'))
      assert.ok('error' in job ? typeof job.error === 'string' : typeof job.drvPath === 'string')
    } catch (err) {
      if (!(err instanceof EvalError)) throw err
      assert.is(err.kind, 'output')
      refused++
    }
  }), { numRuns: RUNS })
  report('nix-eval-jobs lines', n, refused)
})

const drv = fc.stringMatching(/^[0-9a-z]{32}$/).map((h) => `/nix/store/${h}-x.drv`)
const nixJsonValue = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.constant(null), fc.boolean(), drv, fc.array(fc.oneof(fc.string({ maxLength: 8 }), drv, fc.integer(), fc.constant(null)), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }))
const nixEvent = fc.record({
  action: fc.constantFrom('start', 'stop', 'result', 'msg', 'setPhase', 'x'), id: fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null)),
  type: fc.oneof(fc.constantFrom(0, 100, 101, 104, 105, 106, 107), fc.integer(), fc.string({ maxLength: 3 })), level: fc.oneof(fc.integer({ min: -1, max: 8 }), fc.string({ maxLength: 2 }), fc.constant(null)),
  fields: fc.oneof(fc.array(nixJsonValue, { maxLength: 3 }), nixJsonValue), text: nixJsonValue,
  msg: fc.oneof(fc.string({ maxLength: 20 }), drv.map((d) => `\u001b[31;1merror:\u001b[0m builder for '${d}' failed with exit code 1`), nixJsonValue),
}, { requiredKeys: [] })
const internalJsonLine = fc.oneof(
  nixEvent.map((e) => `@nix ${JSON.stringify(e)}`),
  fc.tuple(fc.integer({ min: 2, max: 7 }), drv, fc.constantFrom('done', 'waiting', '')).map(([l, d, w]) => `@nix {"action":"msg","level":${l},"msg":"building of '${d}!out' from .drv file: ${w}"}`),
  fc.json({ maxDepth: 3 }).map((j) => `@nix ${j}`),
  fc.string({ maxLength: 60 }).map((t) => `@nix ${t}`),
  fc.string({ maxLength: 60 }),
  fc.constantFrom('@nix ', '@nix null', '@nix []', '@nix "x"', '@nix {', '@nix {"action":"msg","level":', '@nix {"action":"start","type":105,"fields":"abc"}', '@nix {"action":"result","type":101}', '@nix {"action":"result","type":105,"id":1,"fields":[1,2,0,"x"]}', '@nix {"action":"start","type":104,"id":7}'),
)

test('nix internal-json lines: an event or ignored, never an exception', () => {
  let n = 0, ignored = 0
  fc.assert(fc.property(internalJsonLine, (line) => {
    n++
    const l = parseInternalJsonLine(line)
    switch (l.kind) {
      case 'text': assert.is(l.text, line); break
      case 'buildsStart': assert.type(l.id, 'string'); break
      case 'progress': for (const n of [l.done, l.expected, l.running, l.failed]) assert.ok(Number.isSafeInteger(n) && n >= 0); break
      case 'buildStart': assert.type(l.drv, 'string'); assert.type(l.text, 'string'); assert.type(l.id, 'string'); break
      case 'buildLine': assert.type(l.text, 'string'); assert.type(l.id, 'string'); break
      case 'message': assert.ok(l.level <= 1); assert.not.match(l.text, /\u001b/); break
      case 'ignored': ignored++; break
      default: throw new Error(`unexpected ${JSON.stringify(l)}`)
    }
  }), { numRuns: RUNS })
  console.log(`nix internal-json lines: ${n} cases, ${ignored} ignored, 0 exceptions`)
})

const fieldName = fc.constantFrom('author', 'revision', 'branch', 'repository', 'project', 'comments', 'files', 'properties', 'when_timestamp', 'category', 'codebase', 'revlink', 'who', 'x')
const fieldValue = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', '[]', '["a"]', '{"k":1}', '{', '1e999', '-1', '2147483648', '\u0000'))
const hookBody = fc.oneof(
  fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.dictionary(fieldName, fieldValue, { maxKeys: 5 })).map(([author, o]) => ({ type: 'application/x-www-form-urlencoded', body: new URLSearchParams({ ...o, author }).toString() })),
  fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.dictionary(fieldName, fieldValue, { maxKeys: 5 })).map(([author, o]) => ({ type: 'application/json', body: JSON.stringify({ ...o, author }) })),
  fc.dictionary(fieldName, fieldValue, { maxKeys: 6 }).map((o) => ({ type: 'application/x-www-form-urlencoded', body: new URLSearchParams(o).toString() })),
  fc.dictionary(fieldName, fc.oneof(fieldValue, fc.integer(), fc.double(), fc.constant(null), fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }))), { maxKeys: 6 })
    .map((o) => ({ type: 'application/json', body: JSON.stringify(fc.sample(fc.boolean(), 1)[0] ? [o] : o) })),
  fc.string({ maxLength: 40 }).map((s) => ({ type: fc.sample(fc.constantFrom('application/json', 'text/plain', '', 'application/x-www-form-urlencoded; charset=utf-8'), 1)[0]!, body: s })),
)

test('base change hook bodies: changes or a HookInputError (a 400), nothing else', () => {
  let n = 0, refused = 0
  fc.assert(fc.property(hookBody, fc.dictionary(fieldName, fc.string({ maxLength: 6 }), { maxKeys: 2 }), ({ type, body }, query) => {
    n++
    try {
      const changes = parseBaseHookRequest({ headers: { 'content-type': type }, rawBody: Buffer.from(body), query })
      assert.ok(changes.length >= 1)
      for (const c of changes) {
        assert.type(c.author, 'string')
        if (c.when_timestamp !== undefined) assert.ok(Number.isSafeInteger(c.when_timestamp) && c.when_timestamp >= 0, `when_timestamp ${c.when_timestamp}`)
      }
    } catch (err) {
      if (!(err instanceof HookInputError)) throw err
      refused++
    }
  }), { numRuns: RUNS })
  report('base change hook bodies', n, refused)
})

const cfgValue = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, fc.string({ maxLength: 8 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined),
    fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('v'), { maxKeys: 3 })),
})).v
const cfgKey = fc.constantFrom('title', 'db', 'www', 'workers', 'builders', 'schedulers', 'changeSources', 'plugins', 'protocols', 'basedir', 'collapseRequests', 'properties', 'logLevel', 'buildbotURL', 'nope')
const configInput = fc.oneof(
  fc.dictionary(cfgKey, cfgValue, { maxKeys: 5 }),
  cfgValue,
  fc.record({ www: fc.record({ port: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 5 })), host: fc.string({ maxLength: 8 }), auth: cfgValue }, { requiredKeys: [] }) }),
  fc.record({ workers: fc.array(fc.record({ kind: fc.constantFrom('worker', 'x'), type: fc.constantFrom('local', 'remote', 'x'), name: fc.string({ maxLength: 5 }), maxBuilds: fc.oneof(fc.integer(), fc.double()) }, { requiredKeys: [] }), { maxLength: 3 }) }),
)

test('master configs: resolved, or a ConfigError naming the file and key, nothing else', async () => {
  let n = 0, refused = 0
  await fc.assert(fc.asyncProperty(configInput, async (input) => {
    n++
    try {
      await resolveConfig(input, '/fuzz/master.config.ts')
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      assert.ok(err.lines.every((l) => l.includes('/fuzz/master.config.ts')), `every line names the file: ${err.lines.join(' / ')}`)
      refused++
    }
  }), { numRuns: Math.min(RUNS, 150) })
  report('master configs', n, refused)
})

// The options file the NixOS module writes (`master-options.json`), from the module's example
// configuration, with random parts deleted or replaced: a master config that resolves, or a
// ConfigError naming the file.
const hasNixInstantiate = haveTool('nix-instantiate', 'apt-get install -y nix-bin')
const optionValue = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom<unknown>('', -1, 1e300, [], {}, '../x', 'a b', 0, 65536, ['x']))
const optionMutation = fc.record({ steps: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), op: fc.constantFrom('delete', 'set'), value: optionValue })

function mutated(options: unknown, muts: { steps: number[]; op: string; value: unknown }[]): unknown {
  const root = structuredClone(options)
  for (const m of muts) {
    let parent: Record<string | number, unknown> | undefined
    let key: string | number = ''
    let node: unknown = root
    for (const step of m.steps) {
      if (node === null || typeof node !== 'object') break
      const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node)
      if (!keys.length) break
      parent = node as Record<string | number, unknown>
      key = keys[step % keys.length]!
      node = parent[key]
    }
    if (!parent) continue
    if (m.op === 'delete' && !Array.isArray(parent)) delete parent[key]
    else parent[key] = m.value
  }
  return root
}

;(hasNixInstantiate ? test : test.skip)('NixOS module options files: resolved, or a ConfigError naming the file, nothing else', async () => {
  const repo = resolve(import.meta.dirname, '../..')
  const { options } = JSON.parse(execFileSync('nix-instantiate', ['--eval', '--strict', '--json', join(repo, 'nix/tests/eval-config.nix'), '--arg', 'settings', join(repo, 'nix/tests/example-master.nix')], { encoding: 'utf8' })) as { options: unknown }
  const dir = mkdtempSync(join(tmpdir(), 'bbn-nixos-fuzz-'))
  try {
    const creds = join(dir, 'credentials')
    mkdirSync(creds)
    for (const n of ['buildbot-nix-workers', 'github-app-secret-key', 'github-webhook-secret', 'github-oauth-secret', 'cachix-auth-token', 'effects-secret__github_colon_example_slash_app']) {
      writeFileSync(join(creds, n), n === 'buildbot-nix-workers' ? JSON.stringify([{ name: 'eve', pass: 'pw', cores: 1 }]) : `${n}-value\n`)
    }
    const env = { credentialsDirectory: creds, stateDirectory: join(dir, 'state') }
    const file = join(dir, 'master-options.json')
    let n = 0, refused = 0
    await fc.assert(fc.asyncProperty(fc.array(optionMutation, { maxLength: 3 }), async (muts) => {
      n++
      writeFileSync(file, JSON.stringify(mutated(options, muts)))
      try {
        await resolveConfig(await masterFromNixosOptions(file, env), join(dir, 'master.config.ts'))
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err
        assert.ok(err.lines.every((l) => l.includes(dir)), `every line names the file: ${err.lines.join(' / ')}`)
        refused++
      }
    }), { numRuns: Math.min(RUNS, 150) })
    report('NixOS module options files', n, refused)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
