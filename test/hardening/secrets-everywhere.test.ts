import { test } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket from 'ws'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inflateRawSync } from 'node:zlib'
import { EXCEPTION, builder, interpolate, localWorker, schedulers, secret, secretsFromDir, secretsFromObject, steps } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { startMaster, type MasterHarness } from '../support/master-harness.ts'

/** Two values no build output would hold by chance: one from an inline provider, one from a directory. */
const SECRETS = { token: 'Tk4f9aQzR2vB7mXw1YpL', dirtoken: 'Dr8mWq2vHn53KeJ6tZcA' }
/** A leak of part of a value counts too (a state string cut in the middle of one). */
const WINDOW = 8

function leaksIn(text: string): string[] {
  const found: string[] = []
  for (const [name, value] of Object.entries(SECRETS)) {
    for (let i = 0; i + WINDOW <= value.length; i++) {
      const at = text.indexOf(value.slice(i, i + WINDOW))
      if (at !== -1) { found.push(`${name}[${i}..${i + WINDOW}] in …${text.slice(Math.max(0, at - 80), at + 40)}…`); break }
    }
  }
  return found
}

/** Every row of every table as text, log chunks inflated. */
async function databaseRows(h: MasterHarness): Promise<string[]> {
  const k = h.master.data.db.k
  const out: string[] = []
  for (const t of await k.introspection.getTables()) {
    for (const row of await k.selectFrom(t.name as never).selectAll().execute() as Record<string, unknown>[]) {
      if (t.name === 'logchunks') {
        const buf = Buffer.from(row.content as Uint8Array)
        row.content = (row.compressed ? inflateRawSync(buf) : buf).toString('utf8')
      }
      out.push(`${t.name}: ${JSON.stringify(row, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v))}`)
    }
  }
  return out
}

for (const db of testDatabases()) test(`[${db.name}] secrets from every provider, used every way a build can, appear in no log, REST answer, /ws frame, database row or master log line`, async () => {
  const basedir = mkdtempSync(join(tmpdir(), 'bbn-secrets-'))
  const secretDir = join(basedir, 'secrets')
  mkdirSync(secretDir)
  writeFileSync(join(secretDir, 'dirtoken'), `${SECRETS.dirtoken}\n`)
  const masterLog: string[] = []
  // A prefix long enough that a state string cut at 60 characters ends inside the secret.
  const pad = 'x'.repeat(40)
  let h: MasterHarness | undefined
  try {
    h = await startMaster(db, {
      logLevel: 'debug',
      workers: [localWorker({ name: 'local' })],
      secretsProviders: [secretsFromObject({ token: SECRETS.token }), secretsFromDir(secretDir)],
      builders: [builder({ name: 'uses-secrets', workers: ['local'], steps: [
        steps.shell({ name: 'command', command: ['sh', '-c', interpolate(`echo ${pad} %(secret:token)s %(secret:dirtoken)s`)] }),
        steps.shell({ name: 'environment', command: ['sh', '-c', 'echo "env $TOKEN $DIRTOKEN"; echo "stderr $TOKEN" >&2'], env: { TOKEN: secret('token'), DIRTOKEN: secret('dirtoken') }, logEnviron: true }),
        steps.setProperty({ name: 'interpolated', property: 'rendered', value: interpolate('token=%(secret:token)s dir=%(secret:dirtoken)s') }),
        steps.setPropertyFromCommand({ name: 'from output', command: ['sh', '-c', interpolate('echo out-%(secret:dirtoken)s')], property: 'echoed' }),
        // A child build gets a property holding a secret copied from the parent and one rendered for it.
        steps.trigger({ name: 'child', schedulerNames: ['child'], waitForFinish: true, copy_properties: ['echoed'], set_properties: { direct: interpolate('d-%(secret:token)s') } }),
        steps.shell({ name: 'failing', command: ['sh', '-c', interpolate(`echo ${pad} %(secret:dirtoken)s >&2; exit 3`)], flunkOnFailure: true }),
        // Like a post-build step (a deploy with a secret argument), run whatever happened before.
        steps.shell({ name: 'post-build', alwaysRun: true, command: ['sh', '-c', interpolate('echo uploading with %(secret:token)s')] }),
        steps.custom({
          name: 'step code', alwaysRun: true, async run(ctx) {
            const v = await ctx.secret('token')
            const d = await ctx.secret('dirtoken')
            await ctx.setProperty('nested', { list: [`a ${v}`], deep: { value: d } }, 'test')
            await ctx.addURL(`link ${v}`, `https://user:${d}@example.org/deploy`)
            ctx.setBuildSummary(`summary ${v}`)
            // Step code that cuts its text ends it inside the secret.
            await ctx.setStateString(`${pad.slice(10)}deploying with ${v}`.slice(0, 55))
            throw new Error(`deploy refused for ${v} and ${d}`)
          },
        }),
      ] }), builder({ name: 'child', workers: ['local'], steps: [
        steps.shell({ name: 'uses copied', command: ['sh', '-c', interpolate('echo "child %(prop:echoed)s %(prop:direct)s"')] }),
      ] })],
      schedulers: [schedulers.force({ name: 'force', builderNames: ['uses-secrets'] }), schedulers.triggerable({ name: 'child', builderNames: ['child'] })],
    }, { basedir, logDestination: { write: (line) => { masterLog.push(line) } } })

    // Every event of the run, as a /ws client receives it.
    const frames: string[] = []
    const ws = new WebSocket(`ws://127.0.0.1:${h.master.ports.www}/ws`)
    await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej) })
    ws.on('message', (d) => frames.push(String(d)))
    const patterns = [2, 3, 4, 5, 6].map((n) => Array(n).fill('*').join('/'))
    patterns.forEach((path, i) => ws.send(JSON.stringify({ cmd: 'startConsuming', path, _id: i + 1 })))
    await h.until(() => frames.filter((f) => f.includes('"msg":"OK"')).length === patterns.length, 'the /ws subscriptions')

    const RUNS = 2
    const buildids: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const made = h.waitFor<{ buildid: number; builderid: number }>('builds/*/new', (b) => b.builderid === h!.builderId('uses-secrets'))
      const { bsid } = await h.force('force')
      buildids.push((await made).buildid)
      assert.is(await h.waitBuildset(bsid), EXCEPTION)
    }
    // The last build's final event reached the socket.
    await h.until(() => frames.some((f) => f.includes(`"builds/${buildids.at(-1)}/finished"`)), 'the last build\'s finished frame')

    const base = `http://127.0.0.1:${h.master.ports.www}/api/v2`
    const answers: string[] = []
    const get = async (path: string) => {
      const r = await fetch(`${base}/${path}`)
      assert.is(r.status, 200, path)
      const text = await r.text()
      answers.push(`${path}: ${text}`)
      return text
    }
    for (const p of ['builds', 'buildsets', 'buildrequests', 'changes', 'builders', 'workers', 'forceschedulers', 'sourcestamps']) await get(p)
    let logsRead = 0
    const children = (await h.master.data.db.k.selectFrom('builds').select('buildid').where('builderid', '=', h.builderId('child')).execute()).map((b) => b.buildid)
    assert.is(children.length, RUNS)
    for (const buildid of [...buildids, ...children]) {
      await get(`builds/${buildid}`)
      await get(`builds/${buildid}/properties`)
      const stepList = JSON.parse(await get(`builds/${buildid}/steps`)) as { steps: { stepid: number }[] }
      for (const st of stepList.steps) {
        await get(`steps/${st.stepid}`)
        const logs = JSON.parse(await get(`steps/${st.stepid}/logs`)) as { logs: { logid: number }[] }
        for (const l of logs.logs) {
          await get(`logs/${l.logid}`)
          await get(`logs/${l.logid}/raw`)
          await get(`logs/${l.logid}/contents`)
          logsRead++
        }
      }
    }
    ws.close()
    const rows = await databaseRows(h)

    // The secrets were used: their redacted traces are where they should be.
    const all = answers.join('\n')
    assert.match(all, 'token=<secret> dir=<secret>')
    assert.match(all, 'out-<secret>')
    assert.match(all, 'deploy refused for <secret> and <secret>')
    assert.match(all, 'env <secret> <secret>')
    assert.match(all, 'child out-<secret> d-<secret>')

    const leaks = [
      ...answers.flatMap((a) => leaksIn(a).map((l) => `REST ${l}`)),
      ...frames.flatMap((f) => leaksIn(f).map((l) => `/ws ${l}`)),
      ...rows.flatMap((r) => leaksIn(r).map((l) => `db ${l}`)),
      ...masterLog.flatMap((m) => leaksIn(m).map((l) => `master log ${l}`)),
    ]
    const chunks = rows.filter((r) => r.startsWith('logchunks:')).length
    console.log(`secrets [${db.name}]: ${RUNS} builds and ${children.length} triggered, ${logsRead} logs (${chunks} chunks), ${answers.length} REST answers, ${frames.length} /ws frames, ${rows.length} database rows, ${masterLog.length} master log lines searched; ${leaks.length} leaks`)
    assert.equal(leaks, [], 'no secret, whole or in part, anywhere')
  } finally {
    await h?.stop()
    await db.cleanup()
    rmSync(basedir, { recursive: true, force: true })
  }
})

test.run()
