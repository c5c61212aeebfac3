import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomUUID } from 'node:crypto'
import { eachDb } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { worker } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import { github } from '../../plugins/github/index.ts'
import { githubFixture, hookUrl, WEBHOOK_SECRET } from './fixture.ts'
import { deliver, pushPayload } from './webhook-deliveries.ts'

const TOTAL = 1000

eachDb(test, `soak: ${TOTAL} deliveries with 10 % duplicates and 5 % bad signatures make one change per valid delivery`, async (start) => {
  const { gh, options } = await githubFixture()
  try {
    gh.addRepo({ owner: 'acme', ownerType: 'Organization', name: 'app', cloneUrl: '/srv/git/acme/app', topics: ['build-with-buildbot'], installationId: 31 })
    const h = await start({
      workers: [worker({ name: 'absent', password: 'never-used-pw' })],
      plugins: [nix({ projects: [], workers: ['absent'] }), github(options({ createWebhooks: false }))],
    })
    await h.until(async () => (await h.master.projects.get('acme/app')) != null, 'acme/app discovered')
    const url = hookUrl(h)

    // Pushes to branches no scheduler builds: the soak measures the hook and the database only.
    type Delivery = { id: string; payload: Record<string, unknown>; secret: string; valid: boolean }
    const unique: Delivery[] = []
    const plan: Delivery[] = []
    for (let i = 0; plan.length < TOTAL; i++) {
      const r = i % 20
      if (r === 7 || r === 15) { if (unique.length) plan.push(unique[unique.length - 1 - (i % Math.min(5, unique.length))]!); continue } // 10 % duplicates
      const d: Delivery = { id: randomUUID(), payload: pushPayload({ repo: 'acme/app', ref: `refs/heads/soak/${i}`, after: (i + 1).toString(16).padStart(40, '0') }), secret: r === 3 ? 'wrong-secret' : WEBHOOK_SECRET, valid: r !== 3 } // 5 % bad
      if (d.valid) unique.push(d)
      plan.push(d)
    }
    const answers = new Map<number, number>()
    const started = Date.now()
    let next = 0
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < plan.length) {
        const d = plan[next++]!
        const r = await deliver(url, 'push', d.payload, { secret: d.secret, id: d.id })
        answers.set(r.status, (answers.get(r.status) ?? 0) + 1)
      }
    }))
    const ms = Date.now() - started
    const stored = await h.master.data.db.k.selectFrom('changes').select(['changeid', 'revision']).execute()
    const valid = unique.length
    const duplicates = plan.filter((d, i) => d.valid && plan.indexOf(d) !== i).length
    const bad = plan.filter((d) => !d.valid).length
    console.log(JSON.stringify({ deliveries: plan.length, valid, duplicates, badSignatures: bad, changesStored: stored.length, answers: Object.fromEntries(answers), ms }))
    assert.is(plan.length, TOTAL)
    assert.ok(duplicates >= TOTAL * 0.09 && bad >= TOTAL * 0.045, 'the mix has its duplicates and bad signatures')
    assert.is(stored.length, valid, 'one change per valid delivery')
    assert.is(new Set(stored.map((c) => c.revision)).size, valid, 'no delivery stored twice')
    assert.equal(new Set(stored.map((c) => c.revision)), new Set(unique.map((d) => String(d.payload.after))))
    assert.is(answers.get(403), bad)
    assert.is(answers.get(200), TOTAL - bad)
  } finally {
    await gh.close()
  }
}, testDatabases().slice(0, 1))

test.run()
