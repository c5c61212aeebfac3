import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createAuthz, policyFromWww, ForbiddenError, userCan } from './authz.ts'
import { ruleMatches } from './endpoint-matcher.ts'
import { rolesFrom, ownerRoles, ownerOf, type RoleMatcherFn } from './role-matcher.ts'
import { fnmatch } from './fnmatch.ts'
import type { UserInfo } from '../master-surface.ts'

const anon: UserInfo = { anonymous: true }
const alice: UserInfo = { username: 'alice', email: 'alice@corp.example', groups: ['gh-admins', 'gh-devs', 'other'] }
const bob: UserInfo = { username: 'bob', email: 'bob@else.example' }

test('fnmatch', () => {
  assert.ok(fnmatch('nix-build', 'nix-*'))
  assert.ok(fnmatch('a.b', 'a?b'))
  assert.not.ok(fnmatch('axb', 'a.b'))
  assert.ok(fnmatch('b1', 'b[0-9]'))
  assert.not.ok(fnmatch('b1', 'b[!0-9]'))
  assert.ok(fnmatch('anything', '*'))
})

test('endpoint matchers', () => {
  assert.ok(ruleMatches({ action: 'any', role: 'r' }, { action: 'get' }))
  assert.ok(ruleMatches({ action: 'control', role: 'r' }, { action: 'stop', endpoint: 'build' }))
  assert.not.ok(ruleMatches({ action: 'control', role: 'r' }, { action: 'get' }))
  assert.ok(ruleMatches({ action: 'view', role: 'r' }, { action: 'get' }))
  assert.ok(ruleMatches({ action: 'force', role: 'r', builder: 'nix-*' }, { action: 'force', endpoint: 'forcescheduler', builderNames: ['nix-eval'] }))
  assert.not.ok(ruleMatches({ action: 'force', role: 'r', builder: 'nix-*' }, { action: 'force', endpoint: 'forcescheduler', builderNames: ['lint'] }))
  assert.not.ok(ruleMatches({ action: 'force', role: 'r' }, { action: 'stop', endpoint: 'build' }))
  assert.ok(ruleMatches({ action: 'stop', role: 'r' }, { action: 'stop', endpoint: 'build', builderNames: ['x'] }))
  assert.not.ok(ruleMatches({ action: 'stop', role: 'r' }, { action: 'stop', endpoint: 'worker' }))
  assert.ok(ruleMatches({ action: 'rebuild', role: 'r' }, { action: 'rebuild', endpoint: 'build' }))
  assert.ok(ruleMatches({ action: 'cancel', role: 'r' }, { action: 'cancel', endpoint: 'buildrequest' }))
  assert.ok(ruleMatches({ action: 'enable', role: 'r' }, { action: 'enable', endpoint: 'scheduler' }))
  assert.ok(ruleMatches({ action: 'reload', role: 'r' }, { action: 'reload', endpoint: 'projects', authzAction: 'reload' }))
  assert.not.ok(ruleMatches({ action: 'reload', role: 'r' }, { action: 'get', endpoint: 'projects' }))
  for (const action of ['pause', 'unpause', 'stop', 'kill']) assert.ok(ruleMatches({ action: 'worker', role: 'r' }, { action, endpoint: 'worker' }), action)
  assert.not.ok(ruleMatches({ action: 'worker', role: 'r' }, { action: 'stop', endpoint: 'build' }))
  assert.not.ok(ruleMatches({ action: 'stop', role: 'r' }, { action: 'stop', endpoint: 'worker' }))
})

test('role matchers', () => {
  assert.equal(rolesFrom({ kind: 'groups', groupPrefix: 'gh-' }, alice), ['admins', 'devs'])
  assert.equal(rolesFrom({ kind: 'groups' }, alice), ['gh-admins', 'gh-devs', 'other'])
  assert.equal(rolesFrom({ kind: 'emails', roles: { admins: ['alice@corp.example'] } }, alice), ['admins'])
  assert.equal(rolesFrom({ kind: 'emails', roles: { admins: ['alice@corp.example'] } }, bob), [])
  assert.equal(rolesFrom({ kind: 'usernames', roles: { admins: ['bob'], devs: ['bob', 'x'] } }, bob), ['admins', 'devs'])
  assert.equal(rolesFrom({ kind: 'domain', roles: { staff: ['corp.example'] } }, alice), ['staff'])
  assert.equal(rolesFrom({ kind: 'domain', roles: { staff: ['corp.example'] } }, bob), [])
  assert.equal(rolesFrom({ kind: 'usernames', roles: { admins: ['anonymous'] } }, anon), [])
  assert.equal(ownerRoles({ kind: 'owner', role: 'owner' }, alice, 'alice@corp.example'), ['owner'])
  assert.equal(ownerRoles({ kind: 'owner', role: 'owner' }, bob, 'alice@corp.example'), [])
  assert.is(ownerOf(anon), 'anonymous')
  assert.is(ownerOf(alice), 'alice@corp.example')
  assert.is(ownerOf({ username: 'u' }), 'u')
})

test('rules: first match decides, defaultDeny false falls through, no match allows', async () => {
  const authz = createAuthz({
    private: false,
    roleMatchers: [{ kind: 'groups', groupPrefix: 'gh-' }, { kind: 'owner', role: 'owner' }],
    rules: [
      { action: 'stop', role: 'owner', defaultDeny: false },
      { action: 'force', role: 'devs', builder: 'nix-*' },
      { action: 'control', role: 'admins' },
    ],
  })
  const stopTarget = { action: 'stop', endpoint: 'build', builderNames: ['lint'], owner: 'bob@else.example' }
  assert.ok(await authz.allowed(stopTarget, bob))
  assert.ok(await authz.allowed(stopTarget, alice))
  assert.not.ok(await authz.allowed({ ...stopTarget, owner: 'carol' }, bob))
  assert.ok(await authz.allowed({ action: 'force', endpoint: 'forcescheduler', builderNames: ['nix-eval'] }, alice))
  const denied = await authz.assertAllowed({ action: 'force', endpoint: 'forcescheduler', builderNames: ['nix-eval'] }, bob).then(() => undefined, (e: unknown) => e)
  assert.ok(denied instanceof ForbiddenError && denied.message === "you need to have role 'devs'")
  assert.ok(await authz.allowed({ action: 'get', endpoint: 'builds' }, anon))
  assert.match(String(await authz.assertAllowed({ action: 'cancel', endpoint: 'buildrequest' }, anon).catch((e) => e)), /you need to have role 'admins'/)
})

test('default policy: loopback without auth may control; others are read-only for anonymous', async () => {
  const loop = createAuthz(policyFromWww({ host: '127.0.0.1', auth: { kind: 'none' }, authz: 'default', access: 'public' }))
  assert.equal(await userCan(loop, anon), { force: true, stop: true, rebuild: true, cancel: true, reload: true, worker: true })
  for (const host of ['0.0.0.0', '192.168.1.5', '::']) {
    const pub = createAuthz(policyFromWww({ host, auth: { kind: 'none' }, authz: 'default', access: 'public' }))
    assert.equal(await userCan(pub, anon), { force: false, stop: false, rebuild: false, cancel: false, reload: false, worker: false }, host)
    assert.ok(await pub.allowed({ action: 'get', endpoint: 'builds' }, anon))
  }
  const up = createAuthz(policyFromWww({ host: '0.0.0.0', auth: { kind: 'userpass', users: {} }, authz: 'default', access: 'public' }))
  assert.not.ok(await up.allowed({ action: 'stop', endpoint: 'build' }, anon))
  assert.ok(await up.allowed({ action: 'stop', endpoint: 'build' }, bob))
  const loopUp = createAuthz(policyFromWww({ host: 'localhost', auth: { kind: 'userpass', users: {} }, authz: 'default', access: 'public' }))
  assert.not.ok(await loopUp.allowed({ action: 'force', endpoint: 'forcescheduler' }, anon))
  const plugin = createAuthz(policyFromWww({ host: '0.0.0.0', auth: { kind: 'plugin', name: 'GitHub' }, authz: 'default', access: 'public' }))
  assert.not.ok(await plugin.allowed({ action: 'force', endpoint: 'forcescheduler' }, alice))
})

test('private access requires a logged-in user for reads', async () => {
  const priv = createAuthz(policyFromWww({ host: '0.0.0.0', auth: { kind: 'userpass', users: {} }, authz: 'default', access: 'private' }))
  assert.match(String(await priv.assertAllowed({ action: 'get', endpoint: 'builds' }, anon).catch((e) => e)), /you need to have role 'user'/)
  assert.ok(await priv.allowed({ action: 'get', endpoint: 'builds' }, bob))
})

test('a plugin role matcher grants its role on the projects it names only', async () => {
  const acme = { name: 'acme/app', owner: 'acme', forge: 'github' }
  const other = { name: 'zeta/lib', owner: 'zeta', forge: 'github' }
  const asked: unknown[] = []
  const orgMember: RoleMatcherFn = ({ user, target }) => {
    asked.push(target.project)
    if (target.project === undefined) return user.groups?.length ? ['admin'] : []
    return target.project?.owner && user.groups?.includes(target.project.owner) ? ['admin'] : []
  }
  const authz = createAuthz(policyFromWww({ host: '0.0.0.0', auth: { kind: 'plugin', name: 'gh' }, authz: 'default', access: 'public' }, [orgMember]))
  const carol: UserInfo = { username: 'carol', groups: ['acme'] }
  const stop = (project: typeof acme | null) => ({ action: 'stop', endpoint: 'build', builderNames: ['x'], project })
  assert.ok(await authz.allowed(stop(acme), carol))
  assert.not.ok(await authz.allowed(stop(other), carol))
  assert.not.ok(await authz.allowed(stop(null), carol))
  assert.not.ok(await authz.allowed(stop(acme), bob))
  assert.not.ok(await authz.allowed(stop(acme), anon), 'anonymous users are never given plugin roles')
  assert.equal((await userCan(authz, carol)).stop, true, 'the UI offers Stop to a member of some organisation')
  assert.equal((await userCan(authz, bob)).stop, false)
  assert.ok(asked.includes(acme) && asked.includes(other) && asked.includes(undefined))
  // A matcher that throws gives no role (the others still count) and is reported.
  const errors: unknown[] = []
  const broken = createAuthz({ ...policyFromWww({ host: '0.0.0.0', auth: { kind: 'plugin', name: 'gh' }, authz: 'default', access: 'public' }, [() => { throw new Error('boom') }, orgMember]), onMatcherError: (e) => errors.push(e) })
  assert.ok(await broken.allowed(stop(acme), carol))
  assert.not.ok(await broken.allowed(stop(other), carol))
  assert.is(errors.length, 2)
  // Reads are not asked of plugin matchers unless a rule needs roles.
  const before = asked.length
  assert.ok(await authz.allowed({ action: 'get', endpoint: 'builds', project: null }, carol))
  assert.is(asked.length, before)
})

test('a plugin matcher is asked for anonymous users only when it opted in', async () => {
  const everyone: RoleMatcherFn = Object.assign(() => ['admin'], { anonymous: true })
  const quiet: RoleMatcherFn = () => ['admin']
  const www = { host: '0.0.0.0', auth: { kind: 'plugin', name: 'gh' }, authz: 'default', access: 'public' } as const
  const stop = { action: 'stop', endpoint: 'build', builderNames: ['x'], project: null }
  assert.ok(await createAuthz(policyFromWww(www, [everyone])).allowed(stop, anon))
  assert.not.ok(await createAuthz(policyFromWww(www, [quiet])).allowed(stop, anon))
  assert.ok(await createAuthz(policyFromWww(www, [quiet])).allowed(stop, bob))
})

test.run()
