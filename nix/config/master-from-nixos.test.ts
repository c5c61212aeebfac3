import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parsePgUrl } from 'pg-connection-string'
import { haveTool } from '../../test/support/tools.ts'
import { ConfigError, resolveConfig } from '../../core/index.ts'
import { databaseUrl, masterConfigOf, masterFromNixosOptions } from './master-from-nixos.ts'
import { nixosOptionsSchema, type NixosOptions } from './nixos-options.ts'
import { repoRoot } from '../tests/options-reference.ts'

const hasNix = haveTool('nix-instantiate', 'apt-get install -y nix-bin')
const hasWorker = haveTool('buildbot-worker', 'apt-get install -y buildbot-worker')

interface Evaluated { options: NixosOptions; execStart: string; credentials: string[]; configText: string; assertions: { assertion: boolean; message: string }[] }

/** The master module evaluated (lib stand-in) on the example configuration in buildbot-nix's style. */
function evaluateExample(): Evaluated {
  const out = execFileSync('nix-instantiate', ['--eval', '--strict', '--json', join(repoRoot, 'nix/tests/eval-config.nix'), '--arg', 'settings', join(repoRoot, 'nix/tests/example-master.nix')], { encoding: 'utf8' })
  return JSON.parse(out) as Evaluated
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => (a && typeof a === 'object' ? res(a.port) : rej(new Error('no port')))) })
  })
}

test('buildbot-nix\'s default database URL names PostgreSQL\'s socket folder', () => {
  const url = databaseUrl('postgresql://@/buildbot')
  const parsed = parsePgUrl(url)
  assert.is(parsed.host, '/run/postgresql')
  assert.is(parsed.database, 'buildbot')
  assert.is(parsePgUrl(databaseUrl('postgresql://ci@/ci?host=/tmp')).host, '/tmp')
  assert.is(databaseUrl('postgresql://u:p@db.example.org/ci'), 'postgresql://u:p@db.example.org/ci')
  assert.is(databaseUrl('sqlite:/var/lib/buildbot-nix/state.sqlite'), 'sqlite:/var/lib/buildbot-nix/state.sqlite')
})

test('the example configuration gives options the master accepts, with secrets as credentials', () => {
  if (!hasNix) return
  const ev = evaluateExample()
  assert.ok(nixosOptionsSchema.safeParse(ev.options).success, 'the options JSON matches the schema')
  assert.ok(ev.assertions.every((a) => a.assertion), 'no assertion fails')
  // No secret value reaches the JSON: only credential names.
  const json = JSON.stringify(ev.options)
  for (const value of ['worker-password', '"key"', 'oauth"']) assert.not.ok(json.includes(value), `${value} is not in the options JSON`)
  assert.is(ev.options.github?.appSecretKeyFile, 'github-app-secret-key')
  assert.ok(ev.credentials.includes('effects-secret__github_colon_example_slash_app:/var/lib/secrets/effects.json'))
  assert.ok(ev.credentials.some((c) => c.startsWith('buildbot-nix-workers:')))
  assert.match(ev.execStart, /bin\/buildbot-nix start --config \/etc\/buildbot-nix\/master.config.ts$/)
  assert.match(ev.configText, /masterFromNixosOptions\('\/etc\/buildbot-nix\/master-options.json'\)/)
})

test('a broken options file or a missing credential is a config error that says which', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-nixos-'))
  try {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ dbUrl: 3 }))
    const err = await masterFromNixosOptions(join(dir, 'bad.json'), {}).catch((e: unknown) => e)
    assert.instance(err, ConfigError)
    assert.match((err as ConfigError).message, /services\.buildbot-nix\.master\.dbUrl/)
    if (!hasNix) return
    const { options } = evaluateExample()
    assert.throws(() => masterConfigOf(options, 'x.json', {}), /CREDENTIALS_DIRECTORY is not set/)
    assert.throws(() => masterConfigOf(options, 'x.json', { credentialsDirectory: dir }), /cannot read the credential 'buildbot-nix-workers'/)
    writeFileSync(join(dir, 'buildbot-nix-workers'), '[{"name":"eve"}]')
    assert.throws(() => masterConfigOf(options, 'x.json', { credentialsDirectory: dir }), /workersFile must be JSON like .*pass/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('every sign-in backend and forge of the module resolves into a master config with its plugins', async () => {
  if (!hasNix) return
  const ev = evaluateExample()
  const dir = mkdtempSync(join(tmpdir(), 'bbn-nixos-'))
  try {
    const creds = join(dir, 'credentials')
    mkdirSync(creds)
    const names = ['buildbot-nix-workers', 'github-app-secret-key', 'github-webhook-secret', 'github-oauth-secret', 'gitea-token', 'gitea-webhook-secret',
      'gitea-oauth-secret', 'oidc-client-secret', 'http-basic-auth-password', 'effects-secret__github_colon_example_slash_app', 'cachix-auth-token', 'niks3-auth-token']
    for (const n of names) writeFileSync(join(creds, n), n === 'buildbot-nix-workers' ? JSON.stringify([{ name: 'eve', pass: 'pw', cores: 1 }]) : `${n}-value\n`)
    const env = { credentialsDirectory: creds, stateDirectory: join(dir, 'state') }
    const gitea = { instanceUrl: 'https://git.example.org', userAllowlist: null, repoAllowlist: null, topic: 'build-with-buildbot', oauthId: 'gitea-app', tokenFile: 'gitea-token', webhookSecretFile: 'gitea-webhook-secret', oauthSecretFile: 'gitea-oauth-secret', sshPrivateKeyFile: null, sshKnownHostsFile: null }
    const oidc = { name: 'SSO', discoveryUrl: 'https://sso.example.org/.well-known/openid-configuration', clientId: 'ci', clientSecretFile: 'oidc-client-secret', scope: ['openid'], mapping: { email: 'email', username: 'preferred_username', full_name: 'name', groups: 'groups' } }
    const variants: [string, NixosOptions, string[], string | undefined][] = [
      ['github', ev.options, ['nix', 'effects', 'pull-based', 'binary-caches', 'github', 'auth'], 'github'],
      ['niks3', { ...ev.options, cachix: null, niks3: { serverUrl: 'https://niks3.example.org', authTokenFile: 'niks3-auth-token' }, postBuildSteps: [] }, ['nix', 'effects', 'pull-based', 'binary-caches', 'github', 'auth'], 'github'],
      ['gitea', { ...ev.options, github: null, cachix: null, gitea, authBackend: 'gitea' }, ['nix', 'effects', 'pull-based', 'binary-caches', 'gitea', 'auth'], 'gitea'],
      ['oidc', { ...ev.options, cachix: null, oidc, authBackend: 'oidc' }, ['nix', 'effects', 'pull-based', 'binary-caches', 'github', 'auth'], 'oidc'],
      ['fullyPrivate', { ...ev.options, cachix: null, authBackend: 'httpbasicauth', httpBasicAuthPasswordFile: 'http-basic-auth-password', accessMode: { fullyPrivate: { backend: 'github', clientId: 'proxy', teams: ['example/ci'], users: [], port: 8020 } } }, ['nix', 'effects', 'pull-based', 'binary-caches', 'github', 'auth-oauth2-proxy'], 'httpbasicauth'],
      ['none', { ...ev.options, github: null, cachix: null, authBackend: 'none' }, ['nix', 'effects', 'pull-based', 'binary-caches', 'auth'], undefined],
    ]
    for (const [name, options, plugins, provider] of variants) {
      assert.ok(nixosOptionsSchema.safeParse(options).success, `${name}: options match the schema`)
      const resolved = await resolveConfig(masterConfigOf(options, join(dir, `${name}.json`), env), join(dir, 'master.config.ts')).catch((e: unknown) => {
        throw new Error(`${name}: ${e instanceof ConfigError ? e.lines.join('\n') : (e as Error).message}`)
      })
      assert.equal(resolved.plugins.map((p) => p.name), plugins, `${name}: plugins`)
      const auth = resolved.www.auth
      assert.is(auth.kind === 'plugin' ? auth.name : undefined, provider, `${name}: www.auth`)
    }
    const bad = { ...ev.options, github: null, authBackend: 'github' as const }
    assert.throws(() => masterConfigOf(bad, 'x.json', env), /authBackend is 'github': set github/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, children: (ChildProcess | undefined)[], log: () => string): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const gone = children.find((c) => c && c.exitCode !== null)
    if (gone) throw new Error(`${what}: ${gone.spawnargs.join(' ')} exited (${gone.exitCode}):\n${log()}`)
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${what}: gave up after 120 s\n${log()}`)
}

test('the generated master.config.ts starts a master that the worker launcher\'s buildbot-workers join', async () => {
  if (!hasNix || !hasWorker) return
  const ev = evaluateExample()
  const dir = mkdtempSync(join(tmpdir(), 'bbn-nixos-'))
  const creds = join(dir, 'credentials')
  mkdirSync(creds)
  const [port, workerPort] = [await freePort(), await freePort()]
  const options: NixosOptions = { ...ev.options, dbUrl: `sqlite:${join(dir, 'state.sqlite')}`, port, workerPort, pullBased: { ...ev.options.pullBased, repositories: {} }, github: null, cachix: null, authBackend: 'none' }
  writeFileSync(join(dir, 'master-options.json'), JSON.stringify(options))
  writeFileSync(join(creds, 'buildbot-nix-workers'), JSON.stringify([{ name: 'eve', pass: 'worker-password', cores: 2 }]))
  writeFileSync(join(creds, 'worker-password'), 'worker-password\n')
  // The module's generated file, pointed at this checkout and this options file.
  const configFile = join(dir, 'master.config.ts')
  writeFileSync(configFile, ev.configText
    .replace('/nix/store/buildbot-nix/lib/node_modules/buildbot-nix', repoRoot)
    .replace('/etc/buildbot-nix/master-options.json', join(dir, 'master-options.json')))
  let log = ''
  const master = spawn(process.execPath, [join(repoRoot, 'bin/buildbot-nix.mjs'), 'start', '--config', configFile], {
    env: { ...process.env, CREDENTIALS_DIRECTORY: creds, STATE_DIRECTORY: join(dir, 'state'), BUILDBOT_NIX_CACHE_DIR: join(dir, 'cache') },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  master.stdout!.on('data', (d: Buffer) => { log += d })
  master.stderr!.on('data', (d: Buffer) => { log += d })
  let workers: ChildProcess | undefined
  try {
    const api = (path: string) => fetch(`http://127.0.0.1:${port}/api/v2/${path}`, { headers: { host: 'ci.example.org' } }).then(async (r) => (r.ok ? await r.json() as Record<string, unknown[]> : undefined))
    const configured = await waitFor('workers configured', async () => {
      const r = await api('workers')
      return r?.workers?.length ? (r.workers as { name: string }[]).map((w) => w.name).sort() : undefined
    }, [master], () => log)
    assert.equal(configured, ['eve-000', 'eve-001', 'local'], 'one worker per core of the workersFile entry, named as buildbot-nix names them, and the local one effects run on')
    workers = spawn('bash', [join(repoRoot, 'nix/worker-launcher.sh')], {
      env: { ...process.env, MASTER_URL: `tcp:host=127.0.0.1:port=${workerPort}`, WORKER_NAME: 'eve', WORKER_COUNT: '2', WORKER_PASSWORD_FILE: join(creds, 'worker-password'), BUILDBOT_DIR: join(dir, 'worker') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    workers.stdout!.on('data', (d: Buffer) => { log += d })
    workers.stderr!.on('data', (d: Buffer) => { log += d })
    const connected = await waitFor('workers connected', async () => {
      const r = await api('workers')
      const names = ((r?.workers ?? []) as { name: string; connected_to: unknown[] }[]).filter((w) => w.connected_to.length > 0 && w.name.startsWith('eve-')).map((w) => w.name).sort()
      return names.length === 2 ? names : undefined
    }, [master, workers], () => log)
    assert.equal(connected, ['eve-000', 'eve-001'])
  } finally {
    if (workers && workers.exitCode === null) {
      workers.kill('SIGTERM')
      await new Promise((r) => workers!.once('exit', r))
    }
    if (master.exitCode === null) {
      master.kill('SIGTERM')
      await new Promise((r) => master.once('exit', r))
    }
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
