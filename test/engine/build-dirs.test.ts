import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { builder, steps, schedulers, localWorker } from '../../core/index.ts'
import { startMaster } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'

const [db] = testDatabases()

test('concurrent builds of one builder on one worker each get their own directory', async () => {
  const meet = mkdtempSync(join(tmpdir(), 'bbn-meet-'))
  // Each build announces itself in a shared folder and waits for the other: only builds that
  // overlap can finish; each records the directory it ran in.
  const script = `pwd > mine; touch "${meet}/$$"; for i in $(seq 1 200); do [ $(ls "${meet}" | wc -l) -ge 2 ] && exit 0; sleep 0.05; done; exit 1`
  const h = await startMaster(db!, {
    collapseRequests: false,
    workers: [localWorker({ name: 'local', maxBuilds: 4 })],
    builders: [builder({ name: 'pair', workers: ['local'], maxBuildsPerWorker: 2, steps: [steps.shell({ name: 'meet', command: ['sh', '-c', script] })] })],
  })
  try {
    const a = await h.addBuildset(['pair'])
    const b = await h.addBuildset(['pair'])
    assert.is(await h.waitBuildset(a.bsid), 0)
    assert.is(await h.waitBuildset(b.bsid), 0)
    const rows = await h.master.data.db.k.selectFrom('builds').select(['properties']).execute()
    const dirs = rows.map((r) => (JSON.parse(r.properties) as Record<string, [string, string]>).builddir?.[0])
    assert.is(new Set(dirs).size, 2, `two directories: ${dirs.join(', ')}`)
  } finally {
    await h.stop()
    rmSync(h.basedir, { recursive: true, force: true })
    rmSync(meet, { recursive: true, force: true })
  }
})

test('maxBuildsPerWorker must be a positive integer', async () => {
  try {
    await startMaster(db!, {
      workers: [localWorker({ name: 'local' })],
      builders: [builder({ name: 'x', workers: ['local'], maxBuildsPerWorker: 0, steps: [steps.shell({ command: ['true'] })] })],
    })
    assert.unreachable('config accepted')
  } catch (err) {
    assert.match((err as Error).message, /builders\[0\]\.maxBuildsPerWorker: must be a positive integer/)
  }
})

test.run()
