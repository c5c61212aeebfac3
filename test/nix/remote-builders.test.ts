import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { startMaster } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { nixHooks } from '../support/nix-hooks.ts'
import { startSshStore } from '../support/ssh-store.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { localWorker, SUCCESS } from '../../core/index.ts'
import { nix, type NixAttributeFinished } from '../../plugins/nix/index.ts'

const ready = haveTool('nix', 'apt-get install -y nix-bin') && haveTool('/usr/sbin/sshd', 'apt-get install -y openssh-server', ['-V'])
  && haveTool('ssh', 'apt-get install -y openssh-client', ['-V'])
const sqlite = testDatabases().find((d) => d.name === 'sqlite')!

;(ready ? test : test.skip)("checks and an import-from-derivation of the evaluation build on a remote builder (ssh-ng:// on loopback); outputs come back valid", async () => {
  const store = await startSshStore()
  const tmp = mkdtempSync(join(tmpdir(), 'nix-remote-'))
  // What an operator puts in nix.conf (or /etc/nix/machines): the master's nix processes pass it on.
  const saved = { NIX_CONFIG: process.env.NIX_CONFIG, NIX_SSHOPTS: process.env.NIX_SSHOPTS }
  process.env.NIX_CONFIG = `builders = ${store.builders}\nbuilders-use-substitutes = false`
  process.env.NIX_SSHOPTS = store.sshOpts
  try {
    const repo = join(tmp, 'repo')
    // `viaIfd` imports from a derivation: evaluation itself builds `ifd-source`, on the builder too.
    const ifd = 'mk { name = "ifd-source"; system = "x86_64-linux"; script = "printf evaluated-far-away > $out"; outputs = [ "out" ]; deps = [ ]; }'
    makeFlakeRepo(repo, {
      checks: {
        far: { script: 'echo built-far-away > $out' },
        viaIfd: { expr: `mk { name = "via-ifd"; system = "x86_64-linux"; script = "echo \${builtins.readFile (${ifd})} > $out"; outputs = [ "out" ]; deps = [ ]; }` },
      },
    })
    const h = await startMaster(sqlite, {
      workers: [localWorker({ name: 'local' })],
      plugins: [nix({ projects: [{ name: 'acme/far', url: repo, defaultBranch: 'main' }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1 })],
    })
    try {
      const finished = new Map<string, NixAttributeFinished>()
      const untap = nixHooks(h).attributeFinished.tap((ev) => { finished.set(ev.attr.split('.').pop()!, ev) })
      const { bsid } = await h.force('acme-far-force')
      assert.is(await h.waitBuildset(bsid, 120_000), SUCCESS)
      untap()
      for (const [attr, content] of [['far', 'built-far-away\n'], ['viaIfd', 'evaluated-far-away\n']] as const) {
        const ev = finished.get(attr)
        assert.ok(ev, `no result for ${attr}: ${[...finished.keys()].join(', ')}`)
        assert.is(ev.state, 'success', ev.reason ?? '')
        const out = ev.outPath!
        // It was built in the far store (a chroot store: its files live under its root) ...
        assert.ok(existsSync(join(store.root, 'nix/store', basename(out))), `${out} is not in the remote store`)
        // ... and copied back: valid in the master's store, with the builder's output.
        execFileSync('nix-store', ['--verify-path', out], { stdio: 'pipe' })
        assert.is(readFileSync(out, 'utf8'), content)
      }
      // The derivation the evaluation imported from was built there as well.
      assert.ok(readdirSync(join(store.root, 'nix/store')).some((n) => n.endsWith('-ifd-source')), 'ifd-source was not built on the remote builder')
    } finally { await h.stop() }
  } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v }
    await store.stop()
    rmSync(tmp, { recursive: true, force: true })
  }
})

test.run()
