import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { localWorker, builder, steps, schedulers, interpolate, secretsFromObject, EXCEPTION } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'

const SECRET = 'Tk-4f9a-never-stored-e21c'

/** Every row of every table, as text (bytes decoded as UTF-8). */
async function databaseText(h: MasterHarness): Promise<string> {
  const k = h.master.data.db.k
  let out = ''
  for (const t of await k.introspection.getTables()) {
    const rows = await k.selectFrom(t.name as never).selectAll().execute()
    out += JSON.stringify(rows, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('utf8') : v))
  }
  return out
}

eachDb(test, 'a secret a trusted build uses is redacted in every text that leaves a step: properties, URLs, state strings, errors', async (start) => {
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    secretsProviders: [secretsFromObject({ token: SECRET })],
    builders: [builder({ name: 'b', workers: ['local'], steps: [
      steps.shell({ name: 'command', command: ['echo', interpolate('using %(secret:token)s')] }),
      steps.setProperty({ name: 'prop', property: 'rendered', value: interpolate('token=%(secret:token)s') }),
      steps.setPropertyFromCommand({ name: 'from command', command: ['echo', interpolate('%(secret:token)s')], property: 'echoed' }),
      steps.custom({
        name: 'step code', async run(ctx) {
          const v = await ctx.secret('token')
          await ctx.setProperty('nested', { list: [`a ${v}`], deep: { value: v } }, 'test')
          await ctx.addURL(`link ${v}`, `https://user:${v}@example.org/deploy`)
          await ctx.setStateString(`deploying with ${v}`)
          throw new Error(`deploy refused for ${v}`)
        },
      }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['b'] })],
  })
  const made = h.waitFor<{ buildid: number }>('builds/*/new')
  const { bsid } = await h.force('force')
  const { buildid } = await made
  assert.is(await h.waitBuildset(bsid), EXCEPTION)

  const base = `http://127.0.0.1:${h.master.ports.www}/api/v2`
  const get = async (path: string) => { const r = await fetch(`${base}/${path}`); assert.is(r.status, 200, path); return r.text() }
  let rest = await get(`builds/${buildid}`) + await get(`builds/${buildid}/properties`)
  const stepsText = await get(`builds/${buildid}/steps`)
  rest += stepsText
  for (const st of (JSON.parse(stepsText) as { steps: { stepid: number }[] }).steps) {
    const ls = await get(`steps/${st.stepid}/logs`)
    rest += ls
    for (const l of (JSON.parse(ls) as { logs: { logid: number }[] }).logs) rest += await get(`logs/${l.logid}/contents`)
  }
  // The steps did run with the value, and what they produced is there, redacted.
  assert.match(rest, 'token=<secret>')
  assert.match(rest, 'https://user:<secret>@example.org/deploy')
  assert.match(rest, 'deploy refused for <secret>')
  assert.ok(!rest.includes(SECRET), 'REST answers hold the secret')
  const db = await databaseText(h)
  assert.match(db, 'deploying with <secret>')
  assert.ok(!db.includes(SECRET), `the database holds the secret: ${db.slice(Math.max(0, db.indexOf(SECRET) - 200), db.indexOf(SECRET) + 50)}`)
}, testDatabases())

test.run()
