import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { forgeLinks, repoWebUrl } from './forge-links.ts'

const SHA = '0123456789abcdef0123456789abcdef01234567'

test('clone URLs give the repository page; local paths give none', () => {
  assert.is(repoWebUrl('https://github.com/acme/app.git'), 'https://github.com/acme/app')
  assert.is(repoWebUrl('git@github.com:acme/app.git'), 'https://github.com/acme/app')
  assert.is(repoWebUrl('ssh://git@git.example.org:2222/acme/app.git'), 'https://git.example.org/acme/app')
  assert.is(repoWebUrl('http://localhost:3000/acme/app'), 'http://localhost:3000/acme/app')
  assert.is(repoWebUrl('/srv/git/app'), null)
  assert.is(repoWebUrl('file:///srv/git/app'), null)
})

test('GitHub: commit, branch and pull request links', () => {
  const src = { repository: 'https://github.com/acme/app.git' }
  assert.equal(forgeLinks(src, SHA, 'feature/x'), { commit: `https://github.com/acme/app/commit/${SHA}`, branch: 'https://github.com/acme/app/tree/feature/x' })
  assert.is(forgeLinks(src, SHA, 'refs/pull/7/merge').branch, 'https://github.com/acme/app/pull/7')
})

test('Gitea and Forgejo: from the project forge or a revlink', () => {
  assert.equal(forgeLinks({ repository: 'https://git.example.org/acme/app.git', forge: 'gitea' }, SHA, 'main'),
    { commit: `https://git.example.org/acme/app/commit/${SHA}`, branch: 'https://git.example.org/acme/app/src/branch/main' })
  assert.equal(forgeLinks({ repository: 'https://git.example.org/acme/app.git', revlink: `https://git.example.org/acme/app/commit/${SHA}` }, SHA, 'refs/pull/3/head'),
    { commit: `https://git.example.org/acme/app/commit/${SHA}`, branch: 'https://git.example.org/acme/app/pulls/3' })
})

test('an unknown forge or a local repository links nowhere (but a revlink is kept)', () => {
  assert.equal(forgeLinks({ repository: 'https://git.example.org/acme/app.git' }, SHA, 'main'), { commit: null, branch: null })
  assert.equal(forgeLinks({ repository: '/tmp/repo' }, SHA, 'main'), { commit: null, branch: null })
  assert.equal(forgeLinks({ revlink: 'https://cgit.example.org/app/commit/?id=1' }, SHA, 'main'), { commit: 'https://cgit.example.org/app/commit/?id=1', branch: null })
})

test.run()
