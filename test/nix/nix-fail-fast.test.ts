import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { startMaster, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { nixHooks, nextEvent } from '../support/nix-hooks.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { localWorker, FAILURE, SUCCESS } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import type { NixJobRow } from '../../plugins/nix/jobs-store.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'nix-fail-fast-'))
// Builders run as nixbld users: they look for the release file in here.
chmodSync(tmp, 0o755)
const release = join(tmp, 'release')
const go = join(tmp, 'go')

async function childLog(h: MasterHarness, buildid: number): Promise<string> {
  const k = h.master.data.db.k
  const step = await k.selectFrom('steps').select('stepid').where('buildid', '=', buildid).orderBy('number').executeTakeFirstOrThrow()
  const logs = await k.selectFrom('logs').select('logid').where('stepid', '=', step.stepid).execute()
  let text = ''
  for (const l of logs) {
    const body = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/logs/${l.logid}/contents`)).json() as { logchunks: { content: string }[] }
    text += body.logchunks.map((c) => c.content).join('')
  }
  return text
}

maybe('a failing check is red, and its dependent dependency-failed, while a slow check of the same nix process still builds', async () => {
  const repo = join(tmp, 'repo')
  makeFlakeRepo(repo, {
    checks: {
      // Opened once the evaluation is over: slow and bad then become ready together.
      gate: { script: `while [ ! -e ${go} ]; do /bin/sleep 0.05; done; echo gate > $out` },
      slow: { deps: ['gate'], script: `while [ ! -e ${release} ]; do /bin/sleep 0.05; done; echo slow > $out` },
      bad: { deps: ['gate'], script: 'echo bad breaks here; exit 1' },
      after: { deps: ['bad'] },
    },
  })
  const h = await startMaster(testDatabases()[0]!, {
    workers: [localWorker({ name: 'local', maxBuilds: 8 })],
    // Slow and bad are triggered together; the window lets both children join one nix process.
    plugins: [nix({ projects: [{ name: 'acme/ff', url: repo }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1, shareWindowMs: 1000 })],
  })
  try {
    const jobs = new Map<string, NixJobRow>()
    let resolveRed!: () => void
    const red = new Promise<void>((r) => { resolveRed = r })
    const sub = h.master.bus.subscribe('builds/*/nixjobs/*/*', (_k, msg) => {
      const j = msg as NixJobRow
      jobs.set(j.attr.replace(/^x86_64-linux\./, ''), j)
      if (jobs.get('bad')?.state === 'failed' && jobs.get('after')?.complete_at != null) resolveRed()
    })
    const evaluated = nextEvent(nixHooks(h).evalFinished)
    const { bsid } = await h.force('acme-ff-force')
    await evaluated
    writeFileSync(go, '')
    await red
    sub.unsubscribe()
    // The moment the failure and its dependent are final, the slow check is still building.
    assert.is(jobs.get('slow')?.state, 'building')
    assert.is(jobs.get('bad')?.results, FAILURE)
    assert.is(jobs.get('after')?.state, 'dependency-failed')
    const badLog = await childLog(h, jobs.get('bad')!.child_buildid!)
    assert.match(badLog, /bad breaks here/)
    assert.match(badLog, /builds 2 requested derivations/, 'slow and bad share one nix process')
    const slowBuild = await h.master.data.db.k.selectFrom('builds').select('complete_at').where('buildid', '=', jobs.get('slow')!.child_buildid!).executeTakeFirstOrThrow()
    assert.is(slowBuild.complete_at, null)

    writeFileSync(release, '')
    assert.is(await h.waitBuildset(bsid, 120_000), FAILURE)
    const final = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/builds/${jobs.get('slow')!.buildid}/nixjobs`)).json() as { nixjobs: NixJobRow[] }
    const slow = final.nixjobs.find((j) => j.attr.endsWith('.slow'))!
    assert.is(slow.state, 'success')
    assert.is(slow.results, SUCCESS)
  } finally {
    writeFileSync(go, '')
    writeFileSync(release, '')
    await h.stop()
  }
})

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
