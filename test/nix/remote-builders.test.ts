import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { startMaster } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { nixHooks, nextEvent } from '../support/nix-hooks.ts'
import { startSshStore } from '../support/ssh-store.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { localWorker, SUCCESS } from '../../core/index.ts'
import { nix, type NixAttributeFinished } from '../../plugins/nix/index.ts'

const ready = haveTool('nix', 'apt-get install -y nix-bin') && haveTool('/usr/sbin/sshd', 'apt-get install -y openssh-server', ['-V'])
  && haveTool('ssh', 'apt-get install -y openssh-client', ['-V'])
const sqlite = testDatabases().find((d) => d.name === 'sqlite')!

;(ready ? test : test.skip)("a check builds on a remote builder (ssh-ng:// on loopback) and its output comes back valid", async () => {
  const store = await startSshStore()
  const tmp = mkdtempSync(join(tmpdir(), 'nix-remote-'))
  // What an operator puts in nix.conf (or /etc/nix/machines): the master's nix processes pass it on.
  const saved = { NIX_CONFIG: process.env.NIX_CONFIG, NIX_SSHOPTS: process.env.NIX_SSHOPTS }
  process.env.NIX_CONFIG = `builders = ${store.builders}\nbuilders-use-substitutes = false`
  process.env.NIX_SSHOPTS = store.sshOpts
  try {
    const repo = join(tmp, 'repo')
    makeFlakeRepo(repo, { checks: { far: { script: 'echo built-far-away > $out' } } })
    const h = await startMaster(sqlite, {
      workers: [localWorker({ name: 'local' })],
      plugins: [nix({ projects: [{ name: 'acme/far', url: repo, defaultBranch: 'main' }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1 })],
    })
    try {
      const done = nextEvent<NixAttributeFinished>(nixHooks(h).attributeFinished)
      const { bsid } = await h.force('acme-far-force')
      assert.is(await h.waitBuildset(bsid, 120_000), SUCCESS)
      const ev = await done
      assert.is(ev.state, 'success', ev.reason ?? '')
      const out = ev.outPath!
      // It was built in the far store (a chroot store: its files live under its root) ...
      assert.ok(existsSync(join(store.root, 'nix/store', basename(out))), `${out} is not in the remote store`)
      // ... and copied back: valid in the master's store, with the builder's output.
      execFileSync('nix-store', ['--verify-path', out], { stdio: 'pipe' })
      assert.is(readFileSync(out, 'utf8'), 'built-far-away\n')
    } finally { await h.stop() }
  } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v }
    await store.stop()
    rmSync(tmp, { recursive: true, force: true })
  }
})

test.run()
