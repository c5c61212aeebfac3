import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'

export interface SshStore {
  /** The store URL (`ssh-ng://user@127.0.0.1?remote-store=…&remote-program=…`). */
  url: string
  /** A `builders` line for nix.conf / NIX_CONFIG with this store as the one machine. */
  builders: string
  /** `NIX_SSHOPTS`: port, key, no host-key prompts. */
  sshOpts: string
  /** Where the far side's store lives (`<root>/nix/store/<hash>-<name>`). */
  root: string
  stop(): Promise<void>
}

const SSHD = '/usr/sbin/sshd'

const freePort = () => new Promise<number>((resolve, reject) => {
  const s = createServer()
  s.once('error', reject)
  s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => resolve(typeof a === 'object' && a ? a.port : 0)) })
})

/**
 * A second Nix store reached over `ssh-ng://` on loopback: an unprivileged-style sshd on a free
 * high port with its own host key and an authorized key for the current user, whose far side runs
 * `nix-daemon --stdio --store <root>` (a chroot store in a temp dir, so a build that runs there
 * really has to be copied back). Builds in a chroot store run in a chroot; `/bin`, `/usr` and
 * the libraries are made visible in it (`extra-sandbox-paths`) for builders such as `/bin/sh`.
 */
export async function startSshStore(): Promise<SshStore> {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-ssh-store-'))
  const root = join(dir, 'store')
  const port = await freePort()
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')])
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')])
  copyFileSync(join(dir, 'client_key.pub'), join(dir, 'authorized_keys'))
  const user = userInfo().username
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', 'StrictModes no', 'UsePAM no',
    `PidFile ${join(dir, 'sshd.pid')}`, 'SetEnv PATH=/usr/local/bin:/usr/bin:/bin', '',
  ].join('\n'))
  const daemon = join(dir, 'remote-daemon')
  writeFileSync(daemon, '#!/bin/sh\nexport NIX_CONFIG="extra-sandbox-paths = /bin /usr /lib /lib64"\nexec nix-daemon "$@"\n')
  chmodSync(daemon, 0o755)
  // sshd wants its privilege-separation directory even when it runs for one user.
  try { execFileSync('mkdir', ['-p', '/run/sshd'], { stdio: 'ignore' }) } catch { /* not root: sshd runs without it */ }
  const sshd: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  sshd.stderr!.on('data', (d) => { log += d })
  const exited = new Promise<void>((resolve) => sshd.once('exit', () => resolve()))
  // Ready when it accepts connections (or failed when it exits first).
  for (;;) {
    if (sshd.exitCode !== null) throw new Error(`sshd exited: ${log}`)
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1', () => { c.destroy(); resolve(true) })
      c.once('error', () => resolve(false))
    })
    if (ok) break
    await new Promise((r) => setTimeout(r, 50))
  }
  const url = `ssh-ng://${user}@127.0.0.1?remote-store=${root}&remote-program=${daemon}`
  return {
    url, root,
    builders: `${url} x86_64-linux - 4 1`,
    sshOpts: `-p ${port} -i ${join(dir, 'client_key')} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`,
    async stop() {
      if (sshd.exitCode === null) { sshd.kill('SIGTERM'); await exited }
      // The far side's store has read-only files and directories.
      try { execFileSync('chmod', ['-R', 'u+w', dir], { stdio: 'ignore' }) } catch { /* gone */ }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
