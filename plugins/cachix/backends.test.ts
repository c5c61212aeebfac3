import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../test/support/tools.ts'
import { serveBinaryCache } from '../../test/support/binary-cache-server.ts'
import { installStandIns } from '../../test/fixtures/cache-tools/stand-ins.ts'
import { buildClosures, validIn } from '../../test/fixtures/cache-tools/closures.ts'
import { attic, cachix, niks3, nixStore } from './backends.ts'
import { PushError } from './binary-cache.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'cache-backends-'))
const signal = new AbortController().signal
const salt = `b-${process.pid}-${Date.now()}`
const built = hasNix ? buildClosures(tmp, 2, salt) : { outs: [], dep: '' }
const closure = () => [...built.outs, built.dep].sort()
// A variable only the master has: no cache tool may see it.
process.env.BBN_MASTER_ONLY_SECRET = 'master-only-value'

const secretFile = (name: string, value: string): string => {
  const f = join(tmp, name)
  writeFileSync(f, `${value}\n`, { mode: 0o600 })
  return f
}

maybe('Cachix, niks3 and Attic are run with their documented command lines and credentials, never the master environment', async () => {
  const tools = installStandIns(join(tmp, 'tools'), {
    cachix: { store: `file://${tmp}/cachix-store`, token: 'cachix-tok', cache: 'my-cache' },
    niks3: { store: `file://${tmp}/niks3-store`, token: 'niks3-tok', serverUrl: 'https://niks3.example.org' },
    attic: { store: `file://${tmp}/attic-store`, token: 'attic-tok', endpoint: 'https://attic.example.org/', cache: 'main' },
  })
  const caches = [
    cachix({ name: 'my-cache', auth: { authToken: { file: secretFile('cachix', 'cachix-tok') } }, executable: tools.path('cachix') }),
    niks3({ serverUrl: 'https://niks3.example.org', authTokenFile: secretFile('niks3', 'niks3-tok'), executable: tools.path('niks3') }),
    attic({ endpoint: 'https://attic.example.org/', cache: 'main', tokenFile: secretFile('attic', 'attic-tok'), executable: tools.path('attic') }),
  ]
  for (const c of caches) await c.push(built.outs, signal)
  const calls = tools.calls()
  assert.equal(calls.map((c) => c.tool), ['cachix', 'niks3', 'attic'])
  for (const c of calls) {
    assert.equal(c.problems, [], `${c.tool}: ${c.problems.join('; ')}`)
    assert.equal(c.paths, built.outs)
    assert.not.ok('BBN_MASTER_ONLY_SECRET' in c.env, `${c.tool} saw the master's environment`)
    for (const tok of ['cachix-tok', 'niks3-tok', 'attic-tok']) assert.not.ok(c.argv.join(' ').includes(tok), `${c.tool}: a token in argv`)
  }
  assert.equal(calls[0]!.argv.slice(0, 2), ['push', 'my-cache'])
  assert.is(calls[0]!.env.CACHIX_AUTH_TOKEN, 'cachix-tok')
  assert.is(calls[1]!.env.NIKS3_SERVER_URL, 'https://niks3.example.org')
  assert.equal(calls[2]!.argv.slice(0, 2), ['push', 'buildbot:main'])
  // The private Attic config is gone once the push is over.
  assert.not.ok(readdirSync(tmpdir()).some((d) => d.startsWith('bbn-attic-') && readdirSync(join(tmpdir(), d)).length), 'the Attic config directory was removed')
  for (const t of ['cachix', 'niks3', 'attic']) assert.equal(await validIn(`file://${tmp}/${t}-store`, closure()), closure(), `${t}: every path arrived`)
})

maybe('a signing-key Cachix cache gets CACHIX_SIGNING_KEY; a refused push reports what the tool said', async () => {
  const tools = installStandIns(join(tmp, 'tools-key'), { cachix: { store: `file://${tmp}/key-store`, token: 'signing-key', cache: 'other', fail: 1 } })
  const c = cachix({ name: 'other', auth: { signingKey: { file: secretFile('key', 'signing-key') } }, executable: tools.path('cachix') })
  const err = await c.push(built.outs.slice(0, 1), signal).then(() => null, (e: unknown) => e)
  assert.instance(err, PushError)
  assert.match((err as Error).message, /cachix push exited with 1: .*502 Bad Gateway/)
  await c.push(built.outs.slice(0, 1), signal)
  assert.is(tools.calls()[1]!.env.CACHIX_SIGNING_KEY, 'signing-key')
  assert.not.ok('CACHIX_AUTH_TOKEN' in tools.calls()[1]!.env)
})

maybe('a missing tool or credential file is a clear error naming the fix', async () => {
  const where = await cachix({ name: 'x', auth: { authToken: { file: secretFile('t', 'x') } }, executable: join(tmp, 'nowhere', 'cachix') }).push(built.outs, signal).then(() => null, (e: Error) => e.message)
  assert.match(String(where), /nowhere\/cachix' does not exist: install it \(nix profile install nixpkgs#cachix\) or set the cache's `executable` option/)
  const onPath = await niks3({ serverUrl: 'https://n.example.org', authTokenFile: secretFile('n', 'x'), executable: 'niks3-not-installed-here' }).push(built.outs, signal).then(() => null, (e: Error) => e.message)
  assert.match(String(onPath), /'niks3-not-installed-here' is not on PATH/)
  const noFile = await attic({ endpoint: 'https://a.example.org/', cache: 'c', tokenFile: join(tmp, 'missing-token') }).push(built.outs, signal).then(() => null, (e: Error) => e.message)
  assert.match(String(noFile), /cannot read the Attic token file '.*missing-token'/)
})

maybe('a Nix store says which paths it lacks; nix copy fills it, signed; an HTTP binary cache served from it agrees', async () => {
  const dir = join(tmp, 'file-cache')
  const keyFile = join(tmp, 'cache.sec')
  writeFileSync(keyFile, execFileSync('nix', ['key', 'generate-secret', '--key-name', 'test-cache-1'], { encoding: 'utf8' }))
  const c = nixStore({ url: `file://${dir}`, secretKeyFile: keyFile })
  assert.equal((await c.missing!(closure(), signal)).sort(), closure())
  await c.push(built.outs.slice(0, 1), signal)
  assert.equal(await c.missing!(closure(), signal), [built.outs[1]!], 'the first output and the shared dependency arrived')
  await c.push([built.outs[1]!], signal)
  assert.equal(await c.missing!(closure(), signal), [])
  const narinfo = readFileSync(join(dir, `${built.outs[0]!.slice('/nix/store/'.length, '/nix/store/'.length + 32)}.narinfo`), 'utf8')
  assert.match(narinfo, /^Sig: test-cache-1:/m)
  const http = await serveBinaryCache(dir)
  try {
    assert.equal(await validIn(http.url, closure()), closure())
    assert.equal(await nixStore({ url: http.url }).missing!([...closure(), '/nix/store/00000000000000000000000000000000-absent'], signal), ['/nix/store/00000000000000000000000000000000-absent'])
  } finally { await http.close() }
})

test.run()
