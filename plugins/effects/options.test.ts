import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { effectsOptionsSchema, optionErrors, secretFileFor } from './options.ts'
import { gitTokenSecretName } from './effect-step.ts'
import { branchName, herculesArgs, withoutCredentials } from './hercules-args.ts'

test('options: secret file keys and paths are checked, each mistake at its key path', () => {
  const o = effectsOptionsSchema.parse({ perRepoSecretFiles: { 'github:acme/app': '/s/a.json', 'github:acme': '/s/b.json', 'gitea:x/*': 'rel.json' }, extraSandboxPaths: ['/etc/ssl', 'certs'] })
  assert.equal(optionErrors(o), [
    { path: 'perRepoSecretFiles.github:acme', message: "'github:acme' is not '<forge>:<owner>/<repo>' or '<forge>:<owner>/*' (e.g. 'github:acme/app')" },
    { path: 'perRepoSecretFiles.gitea:x/*', message: "'rel.json' must be an absolute path" },
    { path: 'extraSandboxPaths[1]', message: "'certs' must be an absolute path" },
  ])
  assert.equal(effectsOptionsSchema.parse({}), { perRepoSecretFiles: {}, extraSandboxPaths: [] })
})

test("a project's secrets file: the repository's key, else its owner's", () => {
  const files = { 'github:acme/app': '/a', 'github:acme/*': '/o', 'git:local/*': '/g' }
  assert.equal(secretFileFor(files, 'github', 'acme/app'), { key: 'github:acme/app', file: '/a' })
  assert.equal(secretFileFor(files, 'github', 'acme/lib'), { key: 'github:acme/*', file: '/o' })
  assert.is(secretFileFor(files, 'gitea', 'acme/app'), undefined)
  assert.equal(secretFileFor(files, null, 'local/x'), { key: 'git:local/*', file: '/g' })
})

test('GitToken secret names and Hercules arguments', () => {
  assert.is(gitTokenSecretName(undefined, 'github', 'acme/app'), 'github-token-acme/app')
  assert.is(gitTokenSecretName(undefined, 'gitea', 'acme/app'), 'gitea-token')
  assert.is(gitTokenSecretName('{forge}-{owner}-{repo}', 'gitea', 'acme/app'), 'gitea-acme-app')
  assert.is(branchName('refs/heads/main'), 'main')
  assert.is(branchName('refs/pull/3/merge'), null)
  assert.is(withoutCredentials('https://x-access-token:ghs_abc@github.com/acme/app.git'), 'https://github.com/acme/app.git')
  const a = herculesArgs({ branch: 'main', tag: null, rev: 'abcdef0123456789', name: 'acme/app', owner: 'acme', forgeType: 'github', remoteHttpUrl: 'https://t:secret@github.com/acme/app', webUrl: 'https://github.com/acme/app', isDefaultBranch: true })
  assert.equal(a.primaryRepo, { ref: 'refs/heads/main', branch: 'main', tag: null, rev: 'abcdef0123456789', shortRev: 'abcdef0', remoteHttpUrl: 'https://github.com/acme/app', webUrl: 'https://github.com/acme/app', forgeType: 'github', owner: 'acme', name: 'app' })
  assert.is(a.ref, 'refs/heads/main')
  const pr = herculesArgs({ branch: 'refs/pull/3/merge', tag: null, rev: 'abc', name: 'x', owner: null, forgeType: null, remoteHttpUrl: null, webUrl: null, isDefaultBranch: false })
  assert.equal([pr.ref, pr.branch], ['refs/pull/3/merge', null])
})

test.run()
