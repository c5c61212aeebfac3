import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { localWorker, builder, steps, schedulers, secret, interpolate, secretsFromObject, FAILURE, SUCCESS } from '../../core/index.ts'
import type { MasterConfig } from '../../core/config/define-master.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'

const dbs = testDatabases()

/** A step that records what the build says of its trust as a property. */
const recordTrust = steps.custom({ name: 'record trust', async run(ctx) { await ctx.setProperty('seen_trusted', ctx.build.trusted, 'test'); return SUCCESS } })

const config = (): MasterConfig => ({
  workers: [localWorker({ name: 'local' })],
  builders: [
    builder({ name: 'parent', workers: ['local'], steps: [recordTrust, steps.trigger({ schedulerNames: ['child'], waitForFinish: true })] }),
    builder({ name: 'child', workers: ['local'], steps: [recordTrust] }),
  ],
  schedulers: [
    schedulers.force({ name: 'force', builderNames: ['parent'] }),
    schedulers.anyBranch({ name: 'prs', builderNames: ['parent'], changeFilter: { category: 'pull' }, trusted: (c) => c.trusted }),
    schedulers.anyBranch({ name: 'pushes', builderNames: ['parent'], changeFilter: { category: 'push' } }),
    schedulers.triggerable({ name: 'child', builderNames: ['child'] }),
  ],
})

async function buildsOf(h: MasterHarness, bsid: number) {
  return h.master.data.db.k.selectFrom('builds').innerJoin('buildrequests', 'buildrequests.buildrequestid', 'builds.buildrequestid')
    .select(['builds.buildid', 'builds.properties']).where('buildrequests.buildsetid', '=', bsid).execute()
}
const seen = (props: string) => (JSON.parse(props) as Record<string, [unknown, string]>).seen_trusted?.[0]

async function childBuildset(h: MasterHarness, parentBsid: number): Promise<number> {
  const [b] = await buildsOf(h, parentBsid)
  const row = await h.master.data.db.k.selectFrom('buildsets').select('bsid').where('parent_buildid', '=', b!.buildid).executeTakeFirstOrThrow()
  return row.bsid
}

async function restBuildset(h: MasterHarness, bsid: number): Promise<Record<string, unknown>> {
  const body = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/buildsets/${bsid}`)).json() as { buildsets: Record<string, unknown>[] }
  return body.buildsets[0]!
}

async function changeBuildset(h: MasterHarness, category: string, trusted: boolean | undefined): Promise<number> {
  const added = h.waitFor<{ bsid: number; scheduler: string }>('buildsets/*/new')
  await h.master.data.changes.addChange({ author: 'someone', branch: `b-${category}-${String(trusted)}`, revision: 'abc', category, trusted })
  return (await added).bsid
}

eachDb(test, 'forced buildsets are trusted: the step sees it, REST shows it, the triggered child inherits it', async (start) => {
  const h = await start(config())
  const { bsid } = await h.force('force')
  assert.is(await h.waitBuildset(bsid), SUCCESS)
  assert.is(seen((await buildsOf(h, bsid))[0]!.properties), true)
  assert.is((await restBuildset(h, bsid)).trusted, true)
  const child = await childBuildset(h, bsid)
  assert.is((await restBuildset(h, child)).trusted, true)
  assert.is(seen((await buildsOf(h, child))[0]!.properties), true)
}, dbs)

eachDb(test, 'a scheduler decides per change: an unvouched pull request is untrusted, and so are its children and rebuilds', async (start) => {
  const h = await start(config())
  const pr = await changeBuildset(h, 'pull', undefined)
  assert.is(await h.waitBuildset(pr), SUCCESS)
  assert.is(seen((await buildsOf(h, pr))[0]!.properties), false)
  assert.is((await restBuildset(h, pr)).trusted, false)
  const child = await childBuildset(h, pr)
  assert.is((await restBuildset(h, child)).trusted, false)
  assert.is(seen((await buildsOf(h, child))[0]!.properties), false)
  // REST filters on the flag.
  const untrusted = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/buildsets?trusted=false`)).json() as { buildsets: { bsid: number }[] }
  assert.equal(untrusted.buildsets.map((b) => b.bsid).sort(), [pr, child].sort())

  const [first] = await buildsOf(h, pr)
  const [rebuilt] = await h.master.control.rebuild(first!.buildid, 'tester')
  assert.is(await h.waitBuildset(rebuilt), SUCCESS)
  assert.is((await restBuildset(h, rebuilt)).trusted, false)
  assert.is(seen((await buildsOf(h, rebuilt))[0]!.properties), false)

  // The same scheduler trusts a change the adding code vouched for; a plain scheduler trusts all.
  const vouched = await changeBuildset(h, 'pull', true)
  assert.is(await h.waitBuildset(vouched), SUCCESS)
  assert.is((await restBuildset(h, vouched)).trusted, true)
  const push = await changeBuildset(h, 'push', undefined)
  assert.is(await h.waitBuildset(push), SUCCESS)
  assert.is((await restBuildset(h, push)).trusted, true)
  assert.is(seen((await buildsOf(h, push))[0]!.properties), true)
}, dbs)

const SECRET = 'S3cret-value-never-shown-7f3a'
const CLONE = 'clone-token-readonly-91bd'

/** Three ways a step asks for a secret, then one that needs none, then a token allowed everywhere. */
const secretConfig = (): MasterConfig => ({
  workers: [localWorker({ name: 'local' })],
  secretsProviders: [secretsFromObject({ 'deploy-key': SECRET, 'clone-token': CLONE })],
  builders: [builder({ name: 'deploy', workers: ['local'], steps: [
    steps.shell({ name: 'env secret', command: ['sh', '-c', 'echo "key=$KEY"'], env: { KEY: secret('deploy-key') } }),
    steps.shell({ name: 'interpolated secret', command: ['echo', interpolate('key=%(secret:deploy-key)s')] }),
    steps.custom({ name: 'step code secret', async run(ctx) { await ctx.setProperty('got', (await ctx.secret('deploy-key')).length, 'test'); return SUCCESS } }),
    steps.shell({ name: 'no secret', command: ['echo', 'still running'] }),
    steps.shell({ name: 'allowed token', command: ['sh', '-c', 'test "$TOKEN" = "$EXPECT" && echo token-ok'], env: { TOKEN: secret('clone-token', { allowUntrusted: true }), EXPECT: CLONE } }),
  ] })],
  schedulers: [
    schedulers.force({ name: 'force', builderNames: ['deploy'] }),
    schedulers.anyBranch({ name: 'prs', builderNames: ['deploy'], changeFilter: { category: 'pull' }, trusted: (c) => c.trusted }),
  ],
})

/** Everything REST says about a build: the build, its properties, steps, and every log's contents. */
async function everythingAbout(h: MasterHarness, buildid: number): Promise<{ text: string; steps: { name: string; results: number; state_string: string }[]; logs: Map<string, string> }> {
  const base = `http://127.0.0.1:${h.master.ports.www}/api/v2`
  const get = async (path: string) => { const r = await fetch(`${base}/${path}`); assert.is(r.status, 200, path); return r.text() }
  let text = await get(`builds/${buildid}`) + await get(`builds/${buildid}/properties`) + await get('buildsets') + await get('changes')
  const stepsText = await get(`builds/${buildid}/steps`)
  text += stepsText
  const steps = (JSON.parse(stepsText) as { steps: { stepid: number; name: string; results: number; state_string: string }[] }).steps
  const logs = new Map<string, string>()
  for (const st of steps) {
    const ls = await get(`steps/${st.stepid}/logs`)
    text += ls
    for (const l of (JSON.parse(ls) as { logs: { logid: number; name: string }[] }).logs) {
      const contents = await get(`logs/${l.logid}/contents`)
      text += contents
      logs.set(`${st.name}/${l.name}`, (JSON.parse(contents) as { logchunks: { content: string }[] }).logchunks.map((c) => c.content).join(''))
    }
  }
  return { text, steps, logs }
}

eachDb(test, 'an untrusted build cannot read a secret: each asking step fails saying why, and the value appears nowhere', async (start) => {
  const h = await start(secretConfig())
  const added = h.waitFor<{ bsid: number }>('buildsets/*/new')
  // A pull request as a forge would report it, but nobody vouched for it.
  await h.master.data.changes.addChange({
    author: 'outsider', branch: 'refs/pull/7/merge', revision: 'f'.repeat(40), category: 'pull', repository: 'https://example.org/r.git',
    properties: { event: 'pull_request', base_sha: 'a'.repeat(40), head_sha: 'f'.repeat(40) },
  })
  const { bsid } = await added
  assert.is(await h.waitBuildset(bsid), FAILURE)
  const [b] = await buildsOf(h, bsid)
  const all = await everythingAbout(h, b!.buildid)
  const byName = new Map(all.steps.map((s) => [s.name, s]))
  for (const name of ['env_secret', 'interpolated_secret', 'step_code_secret']) {
    const st = byName.get(name)
    assert.ok(st, `step ${name} ran`)
    assert.is(st!.results, FAILURE, name)
    assert.match(st!.state_string, /secret 'deploy-key' is withheld: this build is untrusted/, name)
    assert.match(all.logs.get(`${name}/err`) ?? '', /secret 'deploy-key' is withheld/)
  }
  // The failures are not crashes (no EXCEPTION), the build goes on, and the allowed token resolves.
  assert.is(byName.get('no_secret')!.results, SUCCESS)
  assert.is(byName.get('allowed_token')!.results, SUCCESS)
  assert.match(all.logs.get('allowed_token/stdio') ?? '', /token-ok/)
  assert.not.ok(all.text.includes(SECRET), 'the secret value is not in REST, state strings or logs')
  // Nothing in the database holds it either (the secret was never even looked up).
  const chunks = await h.master.data.db.k.selectFrom('logchunks').select('content').execute()
  assert.ok(chunks.length > 0)
  const states = await h.master.data.db.k.selectFrom('steps').select('state_string').execute()
  assert.not.ok(states.some((s) => s.state_string.includes(SECRET)))
}, dbs)

eachDb(test, 'a trusted build of the same builder reads the secret (and its logs show it redacted)', async (start) => {
  const h = await start(secretConfig())
  const { bsid } = await h.force('force')
  assert.is(await h.waitBuildset(bsid), SUCCESS)
  const [b] = await buildsOf(h, bsid)
  const all = await everythingAbout(h, b!.buildid)
  assert.ok(all.steps.every((s) => s.results === SUCCESS))
  assert.match(all.logs.get('env_secret/stdio') ?? '', /key=<secret>/)
  assert.is((JSON.parse(b!.properties) as Record<string, [unknown, string]>).got?.[0], SECRET.length)
  const at = all.text.indexOf(SECRET)
  assert.is(at, -1, `the value shows in: ${all.text.slice(Math.max(0, at - 200), at + 50)}`)
}, dbs)

test.run()
