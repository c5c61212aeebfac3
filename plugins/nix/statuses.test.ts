import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CANCELLED, FAILURE, SUCCESS, WARNINGS, type StatusUpdate } from '../../core/index.ts'
import type { NixPreviousResult } from './nix-hooks.ts'
import { createNixHooks, resultChange, type NixAttributeFinished, type NixEvalInfo } from './nix-hooks.ts'
import { reportNixStatuses } from './statuses.ts'

const info = (over: Partial<NixEvalInfo> = {}): NixEvalInfo => ({
  project: 'acme/app', repository: 'https://forge.example/acme/app.git', buildid: 7, url: 'http://ci/#/builders/1/builds/3',
  branch: 'main', revision: 'abc123', isDefaultBranch: true, isPullRequest: false, trusted: true, ...over,
})
const attr = (name: string, state: NixAttributeFinished['state'], over: Partial<NixAttributeFinished> = {}): NixAttributeFinished => ({
  ...info(), attr: name, system: 'x86_64-linux', state, results: state === 'success' || state === 'skipped' ? SUCCESS : FAILURE,
  drvPath: null, outPath: null, childBuildid: 9, attrUrl: `http://ci/#/builders/2/builds/${name}`, reason: null, previous: null,
  change: resultChange(state, null), ...over,
})

/** Every update the mapping hands to its reporter, with the onlyIfReported flag. */
function collect() {
  const out: (StatusUpdate & { onlyIfReported: boolean })[] = []
  return { out, sink: { async report(u: StatusUpdate, o: { onlyIfReported?: boolean } = {}) { out.push({ ...u, onlyIfReported: !!o.onlyIfReported }) } } }
}

test('an evaluation and its matrix: pending, then the evaluation result, then the combined build result', async () => {
  const hooks = createNixHooks({})
  const { out, sink } = collect()
  reportNixStatuses(hooks, sink, { defaultLimit: 50, defaultBranchOf: () => 'main' })
  await hooks.evalStarted.call(info())
  await hooks.evalFinished.call({ ...info(), results: WARNINGS, attributes: 3, failedToEvaluate: 1, warnings: 2, reused: false })
  await hooks.matrixFinished.call({ ...info(), results: FAILURE, counts: { success: 2, failed: 1 }, checkoutDir: '/c', flakeDir: '/c', attribute: 'checks', addSteps: () => {} })
  assert.equal(out.map((u) => [u.context, u.state, u.description]), [
    ['buildbot/nix-eval', 'pending', 'Evaluating the flake'],
    ['buildbot/nix-build', 'pending', 'Waiting for the evaluation'],
    ['buildbot/nix-eval', 'success', 'Evaluated 3 attributes (1 failed to evaluate, 2 warnings)'],
    ['buildbot/nix-build', 'pending', 'Building 3 attributes'],
    ['buildbot/nix-build', 'failure', '2 success, 1 failed'],
  ])
  assert.ok(out.every((u) => u.repository === 'acme/app' && u.revision === 'abc123' && u.targetUrl === info().url))
})

test('a failed or superseded evaluation sets both statuses; evaluations without a revision or filtered out are not reported', async () => {
  const hooks = createNixHooks({})
  const { out, sink } = collect()
  reportNixStatuses(hooks, sink, { defaultLimit: 50, defaultBranchOf: () => 'main', filter: (ev) => ev.project !== 'other/repo', repository: (ev) => `repo:${ev.project}`, contextPrefix: 'ci/' })
  await hooks.evalFinished.call({ ...info(), results: FAILURE, attributes: 0, failedToEvaluate: 0, warnings: 0, reused: false, error: 'error: syntax error\nat flake.nix:3' })
  await hooks.evalFinished.call({ ...info({ revision: 'def' }), results: CANCELLED, attributes: 0, failedToEvaluate: 0, warnings: 0, reused: false, error: 'superseded by a newer evaluation' })
  await hooks.evalStarted.call(info({ revision: null }))
  await hooks.evalStarted.call(info({ project: 'other/repo' }))
  assert.equal(out.map((u) => [u.repository, u.revision, u.context, u.state, u.description]), [
    ['repo:acme/app', 'abc123', 'ci/nix-eval', 'failure', 'Evaluation failed: error: syntax error'],
    ['repo:acme/app', 'abc123', 'ci/nix-build', 'failure', 'The evaluation failed'],
    ['repo:acme/app', 'def', 'ci/nix-eval', 'error', 'Cancelled: superseded by a newer evaluation'],
    ['repo:acme/app', 'def', 'ci/nix-build', 'error', 'Cancelled: superseded by a newer evaluation'],
  ])
})

test('attributes: failures up to the limit, saying new or also on the default branch; successes only to turn a reported failure green', async () => {
  const hooks = createNixHooks({})
  const { out, sink } = collect()
  reportNixStatuses(hooks, sink, { defaultLimit: 2, defaultBranchOf: () => 'trunk' })
  await hooks.evalStarted.call(info())
  const prevFailed: NixPreviousResult = { state: 'failed', results: FAILURE, buildid: 1, childBuildid: 2 }
  const prevOk: NixPreviousResult = { state: 'success', results: SUCCESS, buildid: 1, childBuildid: 3 }
  out.length = 0
  await hooks.attributeFinished.call(attr('a', 'failed', { previous: prevOk, change: resultChange('failed', prevOk) }))
  await hooks.attributeFinished.call(attr('b', 'dependency-failed', { previous: prevFailed, change: resultChange('dependency-failed', prevFailed), reason: 'depends on a, which failed' }))
  await hooks.attributeFinished.call(attr('c', 'eval-failed'))
  await hooks.attributeFinished.call(attr('d', 'success', { previous: prevFailed, change: resultChange('success', prevFailed) }))
  await hooks.attributeFinished.call(attr('e', 'cancelled'))
  assert.equal(out.map((u) => [u.context, u.state, u.description, u.onlyIfReported, u.targetUrl]), [
    ['buildbot/nix-build/a', 'failure', 'build failed (new failure: passes on trunk)', false, 'http://ci/#/builders/2/builds/a'],
    ['buildbot/nix-build/b', 'failure', 'not built: depends on a, which failed (also fails on trunk)', false, 'http://ci/#/builders/2/builds/b'],
    ['buildbot/nix-build/d', 'success', 'built (fixed: fails on trunk)', true, 'http://ci/#/builders/2/builds/d'],
  ])
})

test("attributes: 'all' reports every result; 'none' none; effects get their own status", async () => {
  for (const mode of ['all', 'none'] as const) {
    const hooks = createNixHooks({})
    const { out, sink } = collect()
    const stop = reportNixStatuses(hooks, sink, { defaultLimit: 50, defaultBranchOf: () => 'main', attributes: mode })
    await hooks.attributeFinished.call(attr('a', 'success'))
    await hooks.attributeFinished.call(attr('b', 'skipped'))
    await hooks.effects.call({ ...info(), phase: 'started', effects: [{ name: 'deploy' }] })
    await hooks.effects.call({ ...info(), phase: 'finished', effects: [{ name: 'deploy', results: SUCCESS }, { name: 'notify', results: FAILURE }] })
    stop()
    await hooks.evalStarted.call(info())
    const expected = [
      ...(mode === 'all' ? [['buildbot/nix-build/a', 'success', false], ['buildbot/nix-build/b', 'success', false]] : []),
      ['buildbot/nix-effects', 'pending', false], ['buildbot/nix-effects', 'failure', false],
    ]
    assert.equal(out.map((u) => [u.context, u.state, u.onlyIfReported]), expected, mode)
  }
})

test('resultChange: compared with the default branch', () => {
  const failed: NixPreviousResult = { state: 'cached-failure', results: FAILURE, buildid: 1, childBuildid: null }
  const ok: NixPreviousResult = { state: 'skipped', results: SUCCESS, buildid: 1, childBuildid: null }
  assert.equal([resultChange('failed', null), resultChange('failed', ok), resultChange('eval-failed', failed), resultChange('skipped', failed), resultChange('success', ok), resultChange('cancelled', failed)],
    ['new-failure', 'new-failure', 'still-failing', 'fixed', 'passing', null])
})

test.run()
