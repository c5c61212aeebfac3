import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ProjectEntity } from '../../core/index.ts'
import { giteaRoles } from './roles.ts'

const project = (name: string, owner: string) => ({ name, owner, forge: 'gitea', source: 'gitea' }) as unknown as ProjectEntity
const roles = giteaRoles(() => new Map([['acme/app', project('acme/app', 'acme')], ['bob/lib', project('bob/lib', 'bob')]]))

test("members of the owning organisation (and the owning user) control a Gitea project's builds", async () => {
  const alice = { username: 'alice', groups: ['acme'] }
  assert.equal(await roles({ user: alice, target: { project: { name: 'acme/app', owner: 'acme', forge: 'gitea' } } as never }), ['admin'])
  assert.equal(await roles({ user: alice, target: { project: { name: 'bob/lib', owner: 'bob', forge: 'gitea' } } as never }), [])
  assert.equal(await roles({ user: { username: 'bob', groups: [] }, target: { project: { name: 'bob/lib', owner: 'bob', forge: 'gitea' } } as never }), ['admin'])
})

test("another forge's project, no project, and the UI's question about any project", async () => {
  const alice = { username: 'alice', groups: ['acme'] }
  assert.equal(await roles({ user: alice, target: { project: { name: 'acme/app', owner: 'acme', forge: 'github' } } as never }), [])
  assert.equal(await roles({ user: alice, target: { project: null } as never }), [])
  assert.equal(await roles({ user: alice, target: {} as never }), ['admin'])
  assert.equal(await roles({ user: { username: 'carol', groups: ['other'] }, target: {} as never }), [])
})

test.run()
