import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { defineMaster, localWorker, resolveConfig, ConfigError } from '../../core/index.ts'
import { nix, type NixPluginOptions } from '../../plugins/nix/index.ts'
import { nixOptionsSchema, projectSlug, resolveNixOptions } from '../../plugins/nix/options.ts'
import { projectParts, type ProjectHops } from '../../plugins/nix/project.ts'

test('every option mistake is reported at once with its path', async () => {
  const bad = { projects: [{ name: 'a/b', url: '' }, { name: 'x', url: '/r', pollInterval: -1 }, { name: 'x', url: '/s' }], evalWorkerCount: 0, evalWorkers: 3 } as unknown as NixPluginOptions
  try {
    await resolveConfig(defineMaster({ workers: [localWorker({ name: 'local' })], plugins: [nix(bad)] }), '/tmp/nix-options/master.config.ts')
    assert.unreachable('no error')
  } catch (e) {
    assert.instance(e, ConfigError)
    const text = (e as Error).message
    for (const want of ['plugins[0].workers', 'plugins[0].projects[0].url', 'plugins[0].projects[1].pollInterval', 'plugins[0].projects[2].name', 'plugins[0].evalWorkerCount', 'plugins[0].evalWorkers']) {
      assert.ok(text.includes(want), `${want} in ${text}`)
    }
  }
})

test('builders, schedulers and defaults of a project (its runtime group)', async () => {
  const opts = resolveNixOptions(nixOptionsSchema.parse({ workers: ['local'], projects: [{ name: 'acme/app.js', url: 'https://example.org/acme/app.js.git', pollInterval: 30 }] }), '/tmp/nix-options', 4)
  // The steps only use their hops when they run: building the group needs the workers and step lists.
  const hops = { workers: opts.workers, evaluation: {}, child: {}, postBuildSteps: [], buildStepLists: new Map(), branchGlobs: [] } as unknown as ProjectHops
  const group = projectParts(hops, opts.projects[0]!)
  const builders = group.builders!
  assert.equal(builders.map((b) => b.name), ['acme/app.js/nix-eval', 'acme/app.js/nix-build', 'acme/app.js/nix-failed-eval', 'acme/app.js/nix-dependency-failed', 'acme/app.js/nix-cached-failure'])
  assert.ok(builders.every((b) => b.project === 'acme/app.js' && b.workers.join() === 'local'))
  assert.is(builders.find((b) => b.name.endsWith('/nix-build'))!.collapseRequests, false)
  assert.equal(group.schedulers!.map((s) => s.name).sort(), ['acme-app-js-force', 'acme-app-js-nix-build', 'acme-app-js-nix-cached-failure', 'acme-app-js-nix-dependency-failed', 'acme-app-js-nix-failed-eval', 'acme-app-js-primary', 'acme-app-js-prs'])
  assert.is(group.changeSources!.length, 1)
  // The configuration resolves, and the group is checked with it: a worker the config lacks is named.
  await resolveConfig(defineMaster({ workers: [localWorker({ name: 'local' })], plugins: [nix({ workers: ['local'], projects: [{ name: 'acme/app.js', url: 'x' }] })] }), '/tmp/nix-options/master.config.ts')
  try {
    await resolveConfig(defineMaster({ workers: [localWorker({ name: 'local' })], plugins: [nix({ workers: ['lokal'], projects: [{ name: 'acme/app.js', url: 'x' }] })] }), '/tmp/nix-options/master.config.ts')
    assert.unreachable('no error')
  } catch (e) {
    assert.match(String((e as Error).message), "no worker named 'lokal'")
  }
  assert.is(projectSlug('acme/app.js'), 'acme-app-js')
  const o = resolveNixOptions({ workers: ['w'], projects: [] }, '/base', 4)
  assert.equal([o.gcRootsDir, o.maxConcurrentEvals, o.evalWorkerCount, o.cacheFailedBuilds, o.failedBuildReportLimit, o.shareNixProcesses], ['/base/gcroots', 2, 4, false, 50, true])
})

test.run()
