import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { installationGitAccess } from './git-access.ts'

/** What git's credential machinery answers for `url` with the access's environment (real git). */
function fill(url: string, env: Record<string, string>): string {
  const u = new URL(url)
  try {
    return execFileSync('git', ['credential', 'fill'], {
      input: `protocol=${u.protocol.slice(0, -1)}\nhost=${u.host}\npath=${u.pathname.slice(1)}\n\n`, encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '/bin/false', GIT_CONFIG_NOSYSTEM: '1', ...env },
    })
  } catch { return '' }
}

test('an installation token reaches git through a credential helper scoped to the clone URL', () => {
  const access = installationGitAccess('https://github.com/acme/app.git', 'ghs_token123')
  assert.equal(access.secrets, ['ghs_token123'])
  assert.not.ok(Object.values(access.env).some((v) => v.includes('github.com/acme/app.git') && v.includes('ghs_token123')), 'the token is not in the URL')
  const out = fill('https://github.com/acme/app.git', access.env)
  assert.match(out, /username=x-access-token/)
  assert.match(out, /password=ghs_token123/)
  assert.not.match(fill('https://github.com/other/repo.git', access.env), /ghs_token123/, 'another repository gets nothing')
})

test.run()
