import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { Registry } from 'prom-client'
import { SUCCESS } from '../../core/index.ts'
import { createNixHooks } from './nix-hooks.ts'
import { registerNixMetrics, nixDescendants } from './nix-metrics.ts'
import { haveTool } from '../../test/support/tools.ts'

const info = { project: 'acme/app', repository: 'https://example.org/acme/app', buildid: 7, url: 'http://ci/#/builds/7', branch: 'main', revision: 'abc', isDefaultBranch: true, isPullRequest: false, trusted: true }

test('evaluation durations by project and result', async () => {
  const register = new Registry()
  const hooks = createNixHooks({ onError: (err) => { throw err } })
  registerNixMetrics(register, hooks)
  await hooks.evalStarted.call(info)
  await hooks.evalFinished.call({ ...info, results: SUCCESS, attributes: 2, failedToEvaluate: 0, warnings: 0, reused: false })
  const text = await register.metrics()
  assert.match(text, /^bbn_nix_evaluation_duration_seconds_count\{project="acme\/app",result="success"\} 1$/m)
  assert.match(text, /# TYPE bbn_nix_processes gauge/)
})

if (haveTool('nix-store', 'apt-get install nix-bin')) {
  test('nix processes under the master are counted by program', async () => {
    // `nix-store --serve` waits on its input: a real nix process for as long as the pipe is open.
    const child = spawn('nix-store', ['--serve'], { stdio: ['pipe', 'ignore', 'ignore'] })
    try {
      await new Promise((res, rej) => { child.once('spawn', res); child.once('error', rej) })
      assert.is(nixDescendants(process.pid).get('nix-store'), 1)
      const register = new Registry()
      registerNixMetrics(register, createNixHooks({}))
      assert.match(await register.metrics(), /^bbn_nix_processes\{program="nix-store"\} 1$/m)
    } finally { child.kill() }
  })
}

test.run()
