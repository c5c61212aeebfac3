import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ProjectRef } from '../../core/index.ts'
import { projectOf } from '../../plugins/gitea/discovery.ts'
import type { GiteaRepo } from '../../plugins/gitea/gitea-api.ts'
import { buildbotNixRoles } from '../../plugins/auth/roles.ts'

const repo = (owner: string, name: string): GiteaRepo => ({
  id: 1, name, full_name: `${owner}/${name}`, owner: { login: owner }, private: false, default_branch: 'main',
  clone_url: `https://git.example.org/${owner}/${name}.git`, ssh_url: `git@git.example.org:${owner}/${name}.git`, html_url: `https://git.example.org/${owner}/${name}`,
})
const ref = (r: GiteaRepo): ProjectRef => { const p = projectOf(r, false); return { name: p.name, owner: p.owner ?? null, forge: p.forge ?? null } }

test("with the Gitea sign-in, members of the organisation owning a Gitea project control its builds, and no one else's", async () => {
  const roles = buildbotNixRoles({ admins: [], forge: 'gitea' })
  const alice = { username: 'alice', groups: ['acme'] }
  const target = (r: GiteaRepo, action = 'force') => ({ action, project: ref(r) }) as never
  assert.equal(await roles({ user: alice, target: target(repo('acme', 'app')) }), ['admin'])
  assert.equal(await roles({ user: alice, target: target(repo('acme', 'app'), 'stop') }), ['admin'])
  assert.equal(await roles({ user: alice, target: target(repo('other', 'lib')) }), [])
  // A GitHub login's organisation of the same name is not a Gitea organisation.
  const viaGithub = buildbotNixRoles({ admins: [], forge: 'github' })
  assert.equal(await viaGithub({ user: alice, target: target(repo('acme', 'app')) }), [])
})

test.run()
