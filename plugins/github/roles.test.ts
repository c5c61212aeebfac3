import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { githubMemberRoles } from './roles.ts'

const project = (owner: string, forge = 'github') => ({ name: `${owner}/app`, owner, forge })

test('organisation members get admin on its GitHub projects for force, rebuild, stop and cancel; answers are kept', async () => {
  const asked: string[] = []
  let t = 0
  const roles = githubMemberRoles({
    isOrg: (o) => o === 'acme',
    async isMember(org, login) { asked.push(`${org}:${login}`); if (login === 'flaky') throw new Error('HTTP 502'); return login === 'alice' },
    ttlMs: 100, now: () => t,
  })
  const ask = (username: string | undefined, action: string, p: ReturnType<typeof project> | null | undefined = project('acme')) =>
    roles({ user: username ? { username } : { anonymous: true }, target: { action, project: p } as never })
  assert.equal(await ask('alice', 'force'), ['admin'])
  assert.equal(await ask('alice', 'rebuild'), ['admin'])
  assert.equal(await ask('alice', 'stop'), ['admin'])
  assert.equal(asked, ['acme:alice'], 'one lookup, then the kept answer')
  assert.equal(await ask('mallory', 'force'), [])
  assert.equal(await ask('alice', 'enable'), [], 'other actions are left to the rules')
  assert.equal(await ask('alice', 'force', project('bob')), [], 'a user-owned repository gives no member rights')
  assert.equal(await ask('alice', 'force', project('acme', 'gitea')), [], 'only GitHub projects')
  assert.equal(await roles({ user: { username: 'alice' }, target: { action: 'force' } as never }), [], 'no project named: left to the login plugin')
  assert.equal(await ask('alice', 'force', null), [])
  assert.equal(await ask(undefined, 'force'), [])
  assert.equal(await ask('flaky', 'force'), [], 'a failed lookup gives nothing')
  t = 200
  await ask('alice', 'force')
  assert.equal(asked.filter((a) => a === 'acme:alice').length, 2, 'asked again after the time to keep')
})

test.run()
