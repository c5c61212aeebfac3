import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loginHref, permission } from './frontend-config.ts'

test('the login link: the form page, a provider redirect, or Buildbot\'s /auth/login', () => {
  assert.is(loginHref({ auth: { name: 'NoAuth' } }, '/builders'), undefined)
  assert.is(loginHref({ auth: { name: 'UserPasswordAuth', provider: 'userpass', kind: 'form' } }, '/builders/1'), '#/login?redirect=%2Fbuilders%2F1')
  assert.is(loginHref({ auth: { name: 'github', provider: 'github', kind: 'redirect' } }, '/'), 'auth/github/login?redirect=%2F')
  assert.is(loginHref({ auth: { name: 'GitHub', oauth2: true } }, '/x'), 'auth/login?redirect=%2Fx')
})

test('permissions: the reason names a login only when one is offered', () => {
  assert.equal(permission({ auth: { name: 'UserPasswordAuth', kind: 'form' }, user: { anonymous: true }, user_can: { stop: false } }, 'stop'), { allowed: false, reason: 'Log in to stop' })
  assert.equal(permission({ auth: { name: 'NoAuth' }, user: { anonymous: true }, user_can: { stop: false } }, 'stop'), { allowed: false, reason: 'You are not allowed to stop' })
})

test.run()
