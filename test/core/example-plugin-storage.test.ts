import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Kysely } from 'kysely'
import { eachDb } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { builder, ConfigError, localWorker, resolveConfig, schedulers, steps, defineMaster, type MasterConfig } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import { example } from '../fixtures/example-plugin/index.ts'

const config = (keep: number): MasterConfig => ({
  workers: [localWorker({ name: 'local' })],
  builders: [builder({ name: 'hello', workers: ['local'], steps: [steps.shell({ command: ['true'] })] })],
  schedulers: [schedulers.force({ name: 'force', builderNames: ['hello'] })],
  plugins: [nix({ workers: ['local'], projects: [] }), example({ history: { keep } })],
})

eachDb(test, 'the example plugin keeps its rows in its own table and publishes them after the commit', async (start) => {
  const h = await start(config(2))
  const k = h.master.data.db.k as unknown as Kysely<any>
  assert.equal((await k.selectFrom('kysely_migration_example').select('name').orderBy('name').execute()).map((r) => r.name), ['0001_history', '0002_history_buildid'])
  const seen: number[] = []
  const visible: Promise<number>[] = []
  h.master.bus.subscribe('example/history/*/new', (_key, msg) => {
    const { id } = msg as { id: number }
    seen.push(id)
    visible.push(k.selectFrom('example_history').select('id').where('id', '=', id).execute().then((r) => r.length))
  })
  const buildids: number[] = []
  for (let i = 0; i < 3; i++) {
    const next = h.waitFor<{ buildid: number }>('example/history/*/new', (m) => !buildids.includes(m.buildid))
    const { bsid } = await h.force('force')
    await h.waitBuildset(bsid)
    buildids.push((await next).buildid)
  }
  assert.is(seen.length, 3)
  assert.equal(await Promise.all(visible), [1, 1, 1], 'each row was readable when its event arrived')
  const res = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/example/history`)
  const body = await res.json() as { history: { buildid: number; results: number }[] }
  assert.equal(body.history.map((r) => r.buildid), [buildids[2], buildids[1]], 'the newest two are kept')
  assert.ok(body.history.every((r) => r.results === 0))
}, testDatabases())

test('the example plugin\'s options are checked by its schema', async () => {
  try {
    await resolveConfig(defineMaster({ workers: [localWorker({ name: 'local' })], plugins: [nix({ workers: ['local'], projects: [] }), example({ histroy: {}, history: { keep: 0 } } as never)] }), '/x/master.config.ts')
    assert.unreachable('accepted')
  } catch (e) {
    assert.instance(e, ConfigError)
    assert.equal((e as ConfigError).lines, [
      "/x/master.config.ts: [plugin example] plugins[1].history.keep: must be at least 1, got 0",
      "/x/master.config.ts: [plugin example] plugins[1].histroy: unknown key 'histroy' (did you mean 'history'?); remove it or fix its name",
    ])
  }
})

test.run()
