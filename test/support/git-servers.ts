import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'

export const GIT_DAEMON = '/usr/lib/git-core/git-daemon'
export const SSHD = '/usr/sbin/sshd'

/** A loopback port free right now. */
export async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

/** Waits until the process has written `marker` to stderr (it is ready), or rejects if it exits first. */
function readyWhen(child: ChildProcess, marker: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = ''
    child.stderr!.on('data', (c: Buffer) => { err += c.toString(); if (marker.test(err)) resolve() })
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready: ${err}`)))
  })
}

export interface Served { url(path: string): string; stop(): Promise<void> }

const stopper = (child: ChildProcess) => () => new Promise<void>((r) => {
  if (child.exitCode != null || child.signalCode != null) return r()
  child.once('exit', () => r())
  child.kill('SIGTERM')
})

/** A real `git daemon` on a loopback port serving every repository under `root` (`git://127.0.0.1:<port>/<path>`). */
export async function startGitDaemon(root: string): Promise<Served> {
  mkdirSync(root, { recursive: true })
  const port = await freePort()
  const child = spawn(GIT_DAEMON, ['--reuseaddr', '--export-all', '--informative-errors', `--base-path=${root}`, '--listen=127.0.0.1', `--port=${port}`, '--verbose', root], { stdio: ['ignore', 'ignore', 'pipe'] })
  await readyWhen(child, /Ready to rumble/, 'git daemon')
  return { url: (p) => `git://127.0.0.1:${port}/${p}`, stop: stopper(child) }
}

export interface Sshd extends Served {
  port: number
  /** The test client's private key (authorised for the current user). */
  clientKey: string
  /** known_hosts holding this server's host key. */
  knownHosts: string
  /** known_hosts holding another key for this server (a host key that does not match). */
  wrongKnownHosts: string
}

/**
 * A real OpenSSH server on a loopback port, run by the test with its own host key, accepting only
 * a test key for the current user; `url(path)` is `ssh://<user>@127.0.0.1:<port><absolute path>`.
 */
export async function startSshd(dir: string): Promise<Sshd> {
  mkdirSync(dir, { recursive: true })
  const keygen = (file: string) => { if (!existsSync(file)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', file]) }
  const hostKey = join(dir, 'host_key'), otherKey = join(dir, 'other_host_key'), clientKey = join(dir, 'client_key')
  keygen(hostKey); keygen(otherKey); keygen(clientKey)
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`), { mode: 0o600 })
  const port = await freePort()
  const entry = (pub: string) => `[127.0.0.1]:${port} ${readFileSync(pub, 'utf8').trim().split(' ').slice(0, 2).join(' ')}\n`
  writeFileSync(join(dir, 'known_hosts'), entry(`${hostKey}.pub`))
  writeFileSync(join(dir, 'wrong_known_hosts'), entry(`${otherKey}.pub`))
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password', 'LogLevel VERBOSE', '',
  ].join('\n'))
  // Run as root, sshd needs its privilege separation directory (Debian's service makes it at boot).
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  const child = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  await readyWhen(child, /Server listening on 127\.0\.0\.1 port/, 'sshd')
  const user = userInfo().username
  return {
    port, clientKey, knownHosts: join(dir, 'known_hosts'), wrongKnownHosts: join(dir, 'wrong_known_hosts'),
    url: (p) => `ssh://${user}@127.0.0.1:${port}${p}`, stop: stopper(child),
  }
}
