import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ConfigError, defineMaster, interpolate, localWorker, resolveConfig } from '../../core/index.ts'
import { nix } from '../nix/index.ts'
import { binaryCaches, type BinaryCachesOptions } from './index.ts'

const FILE = '/tmp/cache-options/master.config.ts'
const resolve = (opts: BinaryCachesOptions, withNix = true) => resolveConfig(defineMaster({
  workers: [localWorker({ name: 'local' })],
  plugins: [...(withNix ? [nix({ workers: ['local'], projects: [] })] : []), binaryCaches(opts)],
}), FILE)

async function errorsOf(opts: BinaryCachesOptions, withNix = true): Promise<string[]> {
  try {
    await resolve(opts, withNix)
  } catch (e) {
    assert.instance(e, ConfigError)
    return (e as ConfigError).lines
  }
  return []
}

test('buildbot-nix option names resolve: one or several caches of each kind, post-build steps with interpolations', async () => {
  await resolve({
    cachix: [{ name: 'a', auth: { authToken: { file: '/run/a' } } }, { name: 'b', signingKeyFile: '/run/b' }],
    niks3: { serverUrl: 'https://niks3.example.org', authTokenFile: '/run/n' },
    attic: { endpoint: 'https://attic.example.org/', cache: 'main', tokenFile: '/run/t' },
    nixStore: [{ url: 'file:///var/cache/nix' }, { url: 's3://bucket?region=eu-west-1', secretKeyFile: '/run/k' }],
    postBuildSteps: [
      { name: 'nix lib.interpolate', command: ['cachix', 'push', 'c', { _type: 'interpolate', value: 'result-%(prop:attr)s' }], environment: { T: { _type: 'interpolate', value: '%(secret:t)s' } }, warnOnly: true },
      { name: 'typescript interpolate', command: ['notify', interpolate('%(prop:attr)s')] },
    ],
  })
})

test('every mistake is reported at once, with its key path and the fix', async () => {
  const lines = await errorsOf({
    cachix: { name: 'My Cache' },
    niks3: { serverUrl: 'not a url', authTokenFile: '/run/n' },
    nixStore: { url: '/var/cache/nix' },
    postBuildSteps: [{ name: 'shell', command: 'cachix push c result' as unknown as string[] }],
    onFailure: 'ignore' as 'warnings',
  })
  const text = lines.join('\n')
  for (const want of [
    /plugins\[1\]\.cachix\.name: a Cachix cache name is lower-case letters/,
    /plugins\[1\]\.niks3\.serverUrl: give the niks3 server's URL/,
    /plugins\[1\]\.nixStore\.url: give a Nix store URL, e\.g\. 'file:\/\/\/var\/cache\/nix'/,
    /plugins\[1\]\.postBuildSteps\[0\]\.command: give the command as a list of arguments \(it is run without a shell\)/,
    /plugins\[1\]\.onFailure/,
  ]) assert.match(text, want)
  assert.ok(lines.every((l) => l.startsWith(`${FILE}: `)), text)
})

test('Cachix without credentials, a cache configured twice, and a missing Nix plugin are named', async () => {
  const text = (await errorsOf({ cachix: { name: 'c' }, nixStore: [{ url: 'file:///x' }, { url: 'file:///x' }] })).join('\n')
  assert.match(text, /cachix\.auth: Cachix needs credentials: auth: \{ authToken: \{ file: '\/path\/to\/token' \} \}/)
  assert.match(text, /the cache 'file:\/\/\/x' is configured twice/)
  const noNix = (await errorsOf({ nixStore: { url: 'file:///x' } }, false)).join('\n')
  assert.match(noNix, /plugin 'binary-caches' requires 'nix', which no configured plugin provides; add that plugin to 'plugins'/)
})

test.run()
