import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHmac } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { startGiteaStandIn } from '../support/gitea-stand-in.ts'
import { worker, type MasterConfig } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import { gitea } from '../../plugins/gitea/index.ts'

const TOKEN = 'gitea-token-0b7d4e2c9f'
const HOOK_SECRET = 'gitea-hook-secret-3c7e'

function deliver(h: MasterHarness, payload: unknown, delivery: string): Promise<Response> {
  const body = JSON.stringify(payload)
  return fetch(`http://127.0.0.1:${h.master.ports.www}/change_hook/gitea`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-gitea-event': 'push', 'x-gitea-delivery': delivery, 'x-gitea-signature': createHmac('sha256', HOOK_SECRET).update(body).digest('hex') },
  })
}
const changeCount = async (h: MasterHarness) => Number((await h.master.data.db.k.selectFrom('changes').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)

eachDb(test, 'Gitea: a delivery handled before a restart is a duplicate after it (delivery ids are stored)', async (start) => {
  const dir = mkdtempSync(join(tmpdir(), 'gitea-redelivery-'))
  const s = await startGiteaStandIn({ token: TOKEN, repos: [{ owner: 'acme', name: 'app', topics: ['build-with-buildbot'] }] })
  try {
    writeFileSync(join(dir, 'token'), TOKEN)
    writeFileSync(join(dir, 'hook-secret'), HOOK_SECRET)
    // Builds wait for a worker that never connects: this is about what reaches the database.
    const config: MasterConfig = {
      workers: [worker({ name: 'absent', password: 'never-used-pw' })],
      plugins: [nix({ projects: [], workers: ['absent'] }), gitea({ instanceUrl: s.url, tokenFile: join(dir, 'token'), webhookSecretFile: join(dir, 'hook-secret'), webhookBaseUrl: 'https://ci.example.org/' })],
    }
    const user = { id: 2, login: 'alice', email: 'alice@example.org' }
    const sha = 'c'.repeat(40)
    const push = {
      ref: 'refs/heads/main', before: '0'.repeat(40), after: sha, compare_url: '', repository: s.repoJson(s.repos[0]!), pusher: user, sender: user, commits: [],
      head_commit: { id: sha, message: 'x', url: `${s.url}/acme/app/commit/${sha}`, author: { name: 'Alice', email: 'alice@example.org', username: 'alice' }, committer: { name: 'Alice', email: 'alice@example.org', username: 'alice' }, timestamp: '2024-01-01T00:00:00Z', added: [], removed: [], modified: [] },
    }
    const h = await start(config, { basedir: dir })
    await h.until(() => h.master.projects.get('acme/app'), 'acme/app discovered')
    const first = await deliver(h, push, 'delivery-before-restart')
    assert.equal([first.status, await first.text()], [200, '1 change found'])
    await h.stop()

    const again = await start(config, { basedir: dir, dbUrl: h.dbUrl })
    await again.until(() => again.master.projects.get('acme/app'), 'acme/app known again')
    const redelivered = await deliver(again, push, 'delivery-before-restart')
    assert.equal([redelivered.status, await redelivered.text()], [200, 'delivery already handled'])
    assert.is(await changeCount(again), 1, 'the redelivery stored nothing')
    const fresh = await deliver(again, push, 'delivery-after-restart')
    assert.equal([fresh.status, await fresh.text()], [200, '1 change found'])
    assert.is(await changeCount(again), 2)
  } finally {
    await s.close()
    rmSync(dir, { recursive: true, force: true })
  }
}, testDatabases())

test.run()
