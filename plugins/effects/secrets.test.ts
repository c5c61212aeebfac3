import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { conditionHolds, parseSecretsFile, parseSecretsMap, redactingWriter, secretStrings, selectSecrets, EffectSecretError, type SecretContext } from './secrets.ts'

const main: SecretContext = { branch: 'main', tag: null, isDefaultBranch: true, repo: 'app', owner: 'acme' }
const feature: SecretContext = { ...main, branch: 'feature', isDefaultBranch: false }

test("conditions: Hercules' language (and/or, isDefaultBranch, isTag, isBranch, isRepo, isOwner)", () => {
  assert.ok(conditionHolds('isDefaultBranch', main))
  assert.not.ok(conditionHolds('isDefaultBranch', feature))
  assert.not.ok(conditionHolds('isTag', main))
  assert.ok(conditionHolds('isTag', { ...feature, tag: 'v1', branch: null }))
  assert.ok(conditionHolds({ isBranch: 'feature' }, feature))
  assert.ok(conditionHolds({ and: [{ isRepo: 'app' }, { isOwner: 'acme' }] }, feature))
  assert.not.ok(conditionHolds({ and: [{ isRepo: 'app' }, { isOwner: 'evil' }] }, feature))
  assert.ok(conditionHolds({ and: [] }, feature), 'an empty and holds')
  assert.not.ok(conditionHolds({ or: [] }, main), 'an empty or does not')
  assert.ok(conditionHolds({ or: ['isDefaultBranch', { isBranch: 'feature' }] }, feature))
  assert.not.ok(conditionHolds({ not: 'isTag' } as never, main), 'no not, by design')
})

test('secrets files: Hercules format and buildbot-nix format; mistakes name the file and the secret', () => {
  const f = parseSecretsFile(JSON.stringify({ a: { kind: 'Secret', data: { t: 'x' }, condition: 'isTag' }, b: { data: { t: 'y' } } }), '/s.json')
  assert.equal(Object.keys(f), ['a', 'b'])
  assert.throws(() => parseSecretsFile('{', '/s.json'), /\/s\.json: not valid JSON/)
  assert.throws(() => parseSecretsFile(JSON.stringify({ a: { data: 'x' } }), '/s.json'), /\/s\.json: a\.data: must be an object/)
  assert.throws(() => parseSecretsFile(JSON.stringify({ a: { data: {}, condition: { isBranch: 1 } } }), '/s.json'), /a\.condition\.isBranch: must be a string/)
  assert.throws(() => parseSecretsFile(JSON.stringify({ a: { data: {}, condition: { and: [{ nope: 1 }] } } }), '/s.json'), /a\.condition\.and\[0\]: unknown condition 'nope'/)
  assert.equal(parseSecretsMap(JSON.stringify({ tok: 'deploy', git: { type: 'GitToken' } })), { tok: 'deploy', git: { type: 'GitToken' } })
  assert.equal(parseSecretsMap(undefined), {})
  assert.throws(() => parseSecretsMap('{"x": 1}'), /secretsMap\.x/)
})

const file = parseSecretsFile(JSON.stringify({
  deploy: { kind: 'Secret', data: { token: 'deploy-value-1' }, condition: 'isDefaultBranch' },
  aws: { kind: 'Secret', data: { aws_access_key_id: 'AKIA-value', aws_secret_access_key: 'multi\nline-secret-value' } },
  unused: { kind: 'Secret', data: { token: 'unused-value' } },
}), '/s.json')

test('selection: only what secretsMap names, each when its condition holds, plus the hercules-ci entry', async () => {
  const got = await selectSecrets({ available: file, source: '/s.json', map: { token: 'deploy', creds: 'aws' }, ctx: main, trusted: true })
  assert.equal(got, { token: { data: { token: 'deploy-value-1' } }, creds: file.aws ? { data: file.aws.data } : {}, 'hercules-ci': { data: { token: 'dummy' } } })
  assert.not.ok('unused' in got)
  await assert.not.throws(() => selectSecrets({ available: file, source: '/s.json', map: {}, ctx: feature, trusted: false }))
  const refused = async (o: Partial<Parameters<typeof selectSecrets>[0]>, re: RegExp): Promise<void> => {
    try {
      await selectSecrets({ available: file, source: '/s.json', map: { token: 'deploy' }, ctx: main, trusted: true, ...o })
      assert.unreachable('should refuse')
    } catch (e) {
      assert.instance(e, EffectSecretError)
      assert.match((e as Error).message, re)
      assert.not.match((e as Error).message, 'value')
    }
  }
  await refused({ ctx: feature }, /secret 'deploy' \(as 'token'\): its condition "isDefaultBranch" does not hold here \(branch feature/)
  await refused({ trusted: false }, /withheld: this build is untrusted/)
  await refused({ map: { token: 'nope' } }, /secret 'nope' \(as 'token'\) is not in \/s\.json; secrets there: deploy, aws, unused/)
  await refused({ available: undefined }, /no secrets file is configured/)
  await refused({ map: { push: { type: 'GitToken' } } }, /the GitToken 'push': no forge token/)
  await refused({ map: { push: { type: 'GitToken' } }, trusted: false, gitToken: async () => 'tok' }, /withheld/)
  const git = await selectSecrets({ available: undefined, source: '-', map: { push: { type: 'GitToken' } }, ctx: main, trusted: true, gitToken: async () => 'ghs_short' })
  assert.equal(git.push, { data: { token: 'ghs_short' } })
})

test('logs: every secret string (and each long line of a multi-line one) is hidden, also across chunks', () => {
  const hide = secretStrings({ a: { data: { token: 'deploy-value-1', n: 12345678, nested: ['multi\nline-secret-value'] } }, 'hercules-ci': { data: { token: 'dummy' } } })
  let out = ''
  const w = redactingWriter(hide, (t) => { out += t })
  w.write('token=deploy-val')
  w.write('ue-1 id=12345678\nkey: multi\nline-secret-value\ntail without newline dummy')
  w.write('then a line alone: line-secret-value\n')
  w.end()
  assert.is(out, 'token=<secret> id=<secret>\nkey: <secret>\ntail without newline dummythen a line alone: <secret>\n')
})

test.run()
