import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { localWorker, builder, steps, schedulers, RETRY, SUCCESS } from '../../core/index.ts'
import { startMaster } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'

/** A small tmpfs of our own to fill (needs root, as CI has); by hand without root, skipped. */
function smallDisk(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir], { stdio: 'pipe' })
    return dir
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    const msg = `cannot mount a small tmpfs (${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? err}); run as root`
    if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${msg} (required in CI)`)
    console.warn(`SKIP: ${msg}`)
    return undefined
  }
}

test('a disk that fills up during builds: a force is refused with 503 "disk full" (never a 500), running builds end in RETRY and release their requests, which run again once space is freed', async () => {
  const sqlite = testDatabases().find((d) => d.name === 'sqlite')!
  const disk = smallDisk()
  if (!disk) return
  const gate = join(disk, '..', `${disk.split('/').pop()}-gate`)
  const h = await startMaster(sqlite, {
    workers: [localWorker({ name: 'local', maxBuilds: 4 })],
    builders: [
      // Waits for the gate (on the big disk): running while the small one fills up.
      builder({ name: 'slow', workers: ['local'], steps: [steps.shell({ name: 'wait', command: ['sh', '-c', 'n=0; while [ ! -e "$GATE" ] && [ $n -lt 2400 ]; do sleep 0.05; n=$((n+1)); done; echo done'], env: { GATE: gate } })] }),
      // Prints 4 MB of incompressible text into a 3 MB disk.
      builder({ name: 'chatty', workers: ['local'], steps: [steps.shell({ name: 'talk', command: ['sh', '-c', 'head -c 3000000 /dev/urandom | base64'] })] }),
    ],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['slow'] }), schedulers.force({ name: 'fill', builderNames: ['chatty'] })],
    collapseRequests: false,
  }, { dbUrl: `sqlite:${join(disk, 'state.sqlite')}` })
  try {
    const k = h.master.data.db.k
    const slowStarted = h.waitFor('builds/*/new')
    const slow = await h.force('force')
    await slowStarted
    const fill = await h.force('fill')
    await h.until(() => /100%/.test(execFileSync('df', [disk], { encoding: 'utf8' })), 'the small disk is full', 60_000)

    // While the disk is full (a filler takes what the database left), a force over HTTP is either
    // stored (SQLite may still reuse free pages of its file) or refused with a clear 503, never a 500.
    execFileSync('sh', ['-c', `cat /dev/zero > '${join(disk, 'filler')}' 2>/dev/null || true`])
    const res = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/forceschedulers/force`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'force', params: { builderNames: ['slow'] } }),
    })
    const body = await res.json() as { error?: { message?: string }; result?: [number, Record<string, number>] }
    assert.ok(res.status === 503 || res.status === 200, `503 or 200, not ${res.status}: ${JSON.stringify(body)}`)
    if (res.status === 503) assert.match(body.error?.message ?? '', /disk full/)
    const alsoForced = res.status === 200 ? body.result![0] : undefined

    // Space comes back: every request runs again and completes; nothing stays building or claimed.
    writeFileSync(gate, '')
    rmSync(join(disk, 'filler'), { force: true })
    execFileSync('mount', ['-o', 'remount,size=64m', disk])
    const done = await Promise.all([h.waitBuildset(slow.bsid, 90_000), h.waitBuildset(fill.bsid, 90_000), ...(alsoForced ? [h.waitBuildset(alsoForced, 90_000)] : [])])
    assert.ok(done.every((r) => r === SUCCESS), `every request passes once space is back: ${done.join(', ')}`)
    const retried = await k.selectFrom('builds').select(['buildid', 'state_string']).where('results', '=', RETRY).execute()
    assert.ok(retried.length >= 1, 'the builds the full disk broke ended in RETRY')
    for (const r of retried) {
      const stepTexts = (await k.selectFrom('steps').select('state_string').where('buildid', '=', r.buildid).execute()).map((x) => x.state_string)
      assert.ok([r.state_string, ...stepTexts].some((t) => /disk full/.test(t)), `build ${r.buildid} or its step says "disk full": ${[r.state_string, ...stepTexts].join(' / ')}`)
    }
    const open = await k.selectFrom('builds').select('buildid').where('complete_at', 'is', null).execute()
    assert.equal(open, [], 'no build is left building')
    const pending = await k.selectFrom('buildrequests').select('buildrequestid').where('complete', '=', 0).execute()
    assert.equal(pending, [], 'every request completed')
    const builds = await k.selectFrom('builds').select(['results']).execute()
    console.log(`disk full: ${builds.filter((b) => b.results === RETRY).length} builds ended in RETRY while full, ${builds.filter((b) => b.results === SUCCESS).length} ran and passed once space was back; a force while full answered ${res.status}`)
  } finally {
    writeFileSync(gate, '')
    execFileSync('mount', ['-o', 'remount,size=64m', disk])
    await h.stop()
    execFileSync('umount', [disk])
    rmSync(disk, { recursive: true, force: true })
    rmSync(gate, { force: true })
  }
})

test.run()
