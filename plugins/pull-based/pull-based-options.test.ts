import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ConfigError, defineMaster, localWorker, resolveConfig } from '../../core/index.ts'
import { nix } from '../nix/index.ts'
import { gitea } from '../gitea/index.ts'
import { pullBased, pollOffsets } from './index.ts'

const file = '/tmp/pull-based-options/master.config.ts'
const errorsOf = async (plugin: ReturnType<typeof pullBased> | ReturnType<typeof gitea>): Promise<string> => {
  try {
    await resolveConfig(defineMaster({ workers: [localWorker({ name: 'local' })], plugins: [nix({ workers: ['local'], projects: [] }), plugin] }), file)
    return ''
  } catch (e) {
    assert.instance(e, ConfigError)
    return (e as Error).message
  }
}

test('first polls are spread evenly over the spread, by name; 0 polls all at once', () => {
  assert.equal([...pollOffsets(['c', 'a', 'b', 'd'], 60)], [['a', 0], ['b', 15], ['c', 30], ['d', 45]])
  assert.equal([...pollOffsets(['a', 'b'], 0).values()], [0, 0])
})

test('pull-based mistakes name their key path and the fix', async () => {
  const ok = await errorsOf(pullBased({ repositories: { 'acme/app': { url: 'ssh://git@example.org/acme/app.git', defaultBranch: 'main' } }, sshPrivateKeyFile: '/k' }))
  assert.is(ok, '')
  const text = await errorsOf(pullBased({
    repositories: {
      'acme/https': { url: 'https://example.org/acme/app.git', defaultBranch: 'main' },
      'acme/twice': { url: 'ssh://git@example.org/acme/app.git', defaultBranch: 'main' },
      'acme/again': { url: 'ssh://git@example.org/acme/app.git', defaultBranch: 'main' },
    },
    sshPrivateKeyFile: '/k',
  }))
  for (const want of ['plugins[1].repositories.acme/https.url', 'not an SSH URL', 'plugins[1].repositories.acme/twice.url', "also repository 'acme/again'"]) {
    assert.ok(text.includes(want), `${want} in ${text}`)
  }
  const schema = await errorsOf(pullBased({ repositories: { 'acme/nobranch': { url: 'git@example.org:acme/x.git' } as never }, pollInterval: 0 }))
  for (const want of ['plugins[1].repositories.acme/nobranch.defaultBranch', 'plugins[1].pollInterval']) assert.ok(schema.includes(want), `${want} in ${schema}`)
})

test('gitea mistakes: an instance URL that is not one, sign-in options that belong to the auth plugin', async () => {
  const text = await errorsOf(gitea({ instanceUrl: 'git.example.org', tokenFile: '/t', webhookSecretFile: '/w', oauthId: 'x' } as never))
  assert.ok(text.includes('plugins[1].instanceUrl'), text)
  const text2 = await errorsOf(gitea({ instanceUrl: 'https://git.example.org', tokenFile: '/t', webhookSecretFile: '/w', oauthId: 'x', sshKnownHostsFile: '/kh' }))
  assert.ok(text2.includes('plugins[1].oauthId') && text2.includes("auth({ authBackend: 'gitea'"), text2)
  assert.ok(text2.includes('plugins[1].sshKnownHostsFile'), text2)
})

test.run()
