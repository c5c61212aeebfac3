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

test.run()
