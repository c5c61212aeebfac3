import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { localWorker, builder, steps, schedulers, interpolate, property, EXCEPTION, FAILURE, SKIPPED, SUCCESS, WARNINGS } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'

async function run(h: MasterHarness, params: Record<string, unknown> = {}) {
  const made = h.waitFor<{ buildid: number }>('builds/*/new')
  const { bsid } = await h.force('force', params)
  const { buildid } = await made
  await h.waitBuildset(bsid)
  const k = h.master.data.db.k
  const build = (await h.master.data.builds.getBuild(buildid))!
  const stepRows = await k.selectFrom('steps').selectAll().where('buildid', '=', buildid).orderBy('number').execute()
  return { build, steps: stepRows.map((s) => ({ name: s.name, results: s.results, hidden: s.hidden, started: s.started_at != null, state: s.state_string })) }
}

eachDb(test, 'step flow: doStepIf, haltOnFailure, alwaysRun, flunk/warn options, hideStepIf, exceptions', async (start) => {
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 'flow', workers: ['local'], properties: { greeting: 'hello' }, steps: [
      steps.setProperty({ name: 'set', property: 'who', value: interpolate('%(prop:greeting)s world') }),
      steps.shell({ name: 'skipped', command: ['false'], doStepIf: (ctx) => ctx.getProperty('who') !== 'hello world' }),
      steps.shell({ name: 'skipped-hidden', command: ['false'], doStepIf: false, hideStepIf: (r) => r === SKIPPED }),
      steps.shell({ name: 'soft-fail', command: ['false'], flunkOnFailure: false, warnOnFailure: true }),
      steps.shell({ name: 'hidden', command: ['true'], hideStepIf: (r) => r === SUCCESS }),
      steps.custom({ name: 'boom', async run() { throw new Error('kaput') }, haltOnFailure: true }),
      steps.shell({ name: 'not-run', command: ['true'] }),
      steps.setPropertyFromCommand({ name: 'cleanup', command: ['echo', property('who')], property: 'echoed', alwaysRun: true }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['flow'] })],
  })
  const { build, steps: s } = await run(h)
  assert.equal(s.map((x) => [x.name, x.results, x.hidden, x.started]), [
    ['set', SUCCESS, 0, true], ['skipped', SKIPPED, 0, true], ['skipped-hidden', SKIPPED, 1, true], ['soft-fail', FAILURE, 0, true], ['hidden', SUCCESS, 1, true],
    ['boom', EXCEPTION, 0, true], ['cleanup', SUCCESS, 0, true],
  ])
  assert.is(build.results, EXCEPTION)
  assert.equal(build.properties.who, ['hello world', 'SetProperty Step'])
  assert.equal(build.properties.echoed, ['hello world', 'SetPropertyFromCommand Step'])
  assert.equal(build.properties.buildnumber, [1, 'Build'])
  const boom = await h.master.data.db.k.selectFrom('logs').innerJoin('steps', 'steps.stepid', 'logs.stepid').select(['logs.logid', 'logs.slug']).where('steps.name', '=', 'boom').execute()
  assert.equal(boom.map((l) => l.slug), ['err'])
  assert.match(await h.master.data.logs.getLogLines(boom[0]!.logid, 0, 100), 'Error: kaput')
}, testDatabases())

eachDb(test, 'warnings: WARNINGS from decodeRC makes the build WARNINGS; flunkOnWarnings makes it FAILURE', async (start) => {
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    builders: [
      builder({ name: 'w', workers: ['local'], steps: [steps.shell({ command: ['sh', '-c', 'exit 1'], decodeRC: { 1: WARNINGS } })] }),
      builder({ name: 'fw', workers: ['local'], steps: [steps.shell({ command: ['sh', '-c', 'exit 1'], decodeRC: { 1: WARNINGS }, flunkOnWarnings: true })] }),
    ],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['w', 'fw'] })],
  })
  const { bsid } = await h.force('force')
  assert.is(await h.waitBuildset(bsid), FAILURE)
  const rows = await h.master.data.db.k.selectFrom('builds').innerJoin('builders', 'builders.builderid', 'builds.builderid').select(['builders.name', 'builds.results']).orderBy('builders.name').execute()
  assert.equal(rows.map((r) => [r.name, r.results]), [['fw', FAILURE], ['w', WARNINGS]])
}, testDatabases())

eachDb(test, 'a step adds steps after itself, in order; the properties given with them are theirs only', async (start) => {
  const seen: string[] = []
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 'dyn', workers: ['local'], properties: { attr: 'none' }, steps: [
      steps.custom({
        name: 'adder', async run(ctx) {
          const echo = (tag: string) => steps.shell({ name: `echo ${tag}`, command: ['sh', '-c', interpolate(`echo ${tag}=%(prop:attr)s`)] })
          ctx.addStepsAfterCurrentStep([echo('a1'), echo('a2')], { properties: { attr: 'first' } })
          ctx.addStepsAfterCurrentStep([steps.custom({ name: 'b', async run(c) { seen.push(String(c.getProperty('attr'))); return SUCCESS } })], { properties: { attr: 'second' } })
          return SUCCESS
        },
      }),
      steps.custom({ name: 'last', async run(c) { seen.push(String(c.getProperty('attr'))); return SUCCESS } }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['dyn'] })],
  })
  const { steps: s } = await run(h)
  // Each call inserts right after the adding step, so the later call's steps come first.
  assert.equal(s.map((x) => [x.name, x.results]), [['adder', SUCCESS], ['b', SUCCESS], ['echo_a1', SUCCESS], ['echo_a2', SUCCESS], ['last', SUCCESS]])
  assert.equal(seen, ['second', 'none'])
  const k = h.master.data.db.k
  const logs = await k.selectFrom('logs').innerJoin('steps', 'steps.stepid', 'logs.stepid').select(['steps.name', 'logs.logid']).where('steps.name', 'like', 'echo%').orderBy('steps.number').execute()
  const text: string[] = []
  for (const l of logs) {
    const body = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/logs/${l.logid}/contents`)).json() as { logchunks: { content: string }[] }
    text.push(body.logchunks.map((c) => c.content).join('').split('\n').find((x) => x.startsWith('oa'))!.slice(1))
  }
  assert.equal(text, ['a1=first', 'a2=first'])
}, testDatabases())

test.run()
