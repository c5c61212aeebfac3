import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveExecutable, haveTool } from '../support/tools.ts'
import { eachDb, startMaster, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { GIT_DAEMON, SSHD, startGitDaemon, startSshd } from '../support/git-servers.ts'
import { localWorker, SUCCESS, type MasterConfig } from '../../core/index.ts'
import { createLogger } from '../../core/util/logger.ts'
import { connectDb } from '../../core/db/connect.ts'
import { nix } from '../../plugins/nix/index.ts'
import { pullBased } from '../../plugins/pull-based/index.ts'

const ready = haveTool('nix', 'apt-get install -y nix-bin') && haveExecutable(GIT_DAEMON, 'apt-get install -y git') && haveExecutable(SSHD, 'apt-get install -y openssh-server')
const maybe = ready ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'pull-based-'))
const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' }).trim()

/**
 * A bare repository on `main` (a flake, or a plain repository whose evaluation fails at once:
 * enough to test polling), and a function committing to it (returns the new head).
 */
function bareRepo(work: string, bare: string, flake = true): () => string {
  if (flake) makeFlakeRepo(work, { checks: { ok: {} }, salt: randomUUID() })
  else {
    mkdirSync(work, { recursive: true })
    git(work, 'init', '-q', '-b', 'main'); writeFileSync(join(work, 'README'), 'no flake\n'); git(work, 'add', 'README'); git(work, 'commit', '-q', '-m', 'init')
  }
  mkdirSync(join(bare, '..'), { recursive: true })
  execFileSync('git', ['clone', '-q', '--bare', work, bare])
  git(work, 'remote', 'add', 'served', bare)
  let n = 0
  return () => {
    writeFileSync(join(work, 'n.txt'), String(++n)); git(work, 'add', 'n.txt'); git(work, 'commit', '-q', '-m', `commit ${n}`)
    git(work, 'push', '-q', 'served', 'main')
    return git(work, 'rev-parse', 'HEAD')
  }
}

const changesOf = async (h: MasterHarness, revision: string) =>
  (await h.master.data.db.k.selectFrom('changes').select(['changeid', 'project']).where('revision', '=', revision).execute())

eachDb(maybe, 'pull-based: polled over git daemon and over SSH, a new commit within one interval, no revision built twice across a restart', async (start, db) => {
  const dir = mkdtempSync(join(tmp, `${db.name}-`))
  const daemon = await startGitDaemon(join(dir, 'daemon'))
  const sshd = await startSshd(join(dir, 'sshd'))
  try {
    const commitD = bareRepo(join(dir, 'work-d'), join(dir, 'daemon', 'a.git'), false)
    const commitS = bareRepo(join(dir, 'work-s'), join(dir, 'ssh', 'b.git'))
    const d0 = git(join(dir, 'daemon', 'a.git'), 'rev-parse', 'main')
    const s0 = git(join(dir, 'ssh', 'b.git'), 'rev-parse', 'main')
    const config: MasterConfig = {
      workers: [localWorker({ name: 'local', maxBuilds: 8 })],
      plugins: [
        nix({ projects: [], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1 }),
        pullBased({
          repositories: {
            'acme/daemon': { url: daemon.url('a.git'), defaultBranch: 'main', sshPrivateKeyFile: null },
            'acme/ssh': { url: sshd.url(join(dir, 'ssh', 'b.git')), defaultBranch: 'main' },
          },
          pollInterval: 1, pollSpread: 0, sshPrivateKeyFile: sshd.clientKey, sshKnownHostsFile: sshd.knownHosts,
        }),
      ],
    }
    const basedir = mkdtempSync(join(dir, 'base-'))
    const dbUrl = await db.url(basedir)
    const h = await start(config, { basedir, dbUrl })
    const sshEval = h.builderId('acme/ssh/nix-eval')
    const built = h.waitFor<{ builderid: number; results: number }>('builds/*/finished', (m) => m.builderid === sshEval, 180_000)
    assert.is((await built).results, SUCCESS, 'checked out over SSH with the key, evaluated and built')
    await h.until(async () => (await changesOf(h, d0)).length, 'the first poll over git daemon')
    assert.is((await changesOf(h, s0)).length, 1)

    const d1 = commitD(), s1 = commitS()
    await h.until(async () => (await changesOf(h, d1)).length && (await changesOf(h, s1)).length, 'new commits picked up by the next polls', 60_000)
    await h.stop()

    // As if the master had stopped after storing d1's change but before saving what it polled:
    // the daemon poller's state goes back to d0. d1 must still not become a second change.
    const db2 = await connectDb(dbUrl, { baseDir: basedir })
    await db2.k.updateTable('object_state').set({ value_json: JSON.stringify({ main: d0 }) }).where('name', '=', 'lastRev')
      .where('objectid', 'in', db2.k.selectFrom('objects').select('objectid').where('name', '=', 'pull-based:acme/daemon')).execute()
    await db2.close()

    // After a restart the pollers remember what they saw: only new commits make changes.
    const d2 = commitD(), s2 = commitS()
    const h2 = await start(config, { basedir, dbUrl })
    await h2.until(async () => (await changesOf(h2, d2)).length && (await changesOf(h2, s2)).length, 'commits made while the master was down', 60_000)
    const revs = { d0, s0, d1, s1, d2, s2 }
    for (const [what, rev] of Object.entries(revs)) assert.is((await changesOf(h2, rev)).length, 1, `${what} (${rev}) is one change`)
    const projects = await h2.master.projects.list()
    assert.equal(projects.filter((p) => p.source === 'pull-based').map((p) => p.name).sort(), ['acme/daemon', 'acme/ssh'])
  } finally {
    await daemon.stop()
    await sshd.stop()
  }
}, testDatabases())

maybe('pull-based over SSH: a host key that does not match known_hosts is refused, and the log says so', async () => {
  const dir = mkdtempSync(join(tmp, 'hostkey-'))
  const sshd = await startSshd(join(dir, 'sshd'))
  const lines: string[] = []
  const log = createLogger({ level: 'warn', destination: { write: (s: string) => { lines.push(s) } } })
  const [db] = testDatabases()
  let h: MasterHarness | undefined
  try {
    bareRepo(join(dir, 'work'), join(dir, 'ssh', 'c.git'), false)
    const config: MasterConfig = {
      workers: [localWorker({ name: 'local' })],
      plugins: [
        nix({ projects: [], workers: ['local'] }),
        pullBased({
          repositories: { 'acme/c': { url: sshd.url(join(dir, 'ssh', 'c.git')), defaultBranch: 'main' } },
          sshPrivateKeyFile: sshd.clientKey, sshKnownHostsFile: sshd.wrongKnownHosts,
        }),
      ],
    }
    h = await startMaster(db!, config, { log })
    const line = await h.until(() => lines.find((l) => l.includes('git poll failed')), 'the poll fails', 60_000)
    assert.is(Number((await h.master.data.db.k.selectFrom('changes').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n), 0)
  } finally {
    await h?.stop()
    await db!.cleanup()
    await sshd.stop()
  }
})

test.run()
