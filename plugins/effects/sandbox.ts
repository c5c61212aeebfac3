import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { isAbsolute } from 'node:path'
import { runProcess, type ProcessResult } from './process.ts'
import type { EffectDerivation } from './derivation.ts'

export const DAEMON_SOCKET = '/nix/var/nix/daemon-socket/socket'
/** Where the effect reads its secrets (`HERCULES_CI_SECRETS_JSON`). */
export const SECRETS_IN_SANDBOX = '/run/secrets.json'

export interface SandboxOptions {
  /** The host file with the selected secrets (bound read-only at /run/secrets.json). */
  secretsFile: string
  /** Host paths bound read-only at the same place (the `extraSandboxPaths` option). */
  extraSandboxPaths: readonly string[]
  /** `HERCULES_CI_PROJECT_ID` and `HERCULES_CI_PROJECT_PATH` (`github/owner/repo`). */
  projectId: string
  projectPath: string
  /** Test hook: another daemon socket location (default: nix's). */
  daemonSocket?: string
}

/** The libraries a dynamically linked program outside the store loads (from `ldd`). */
function sharedLibraries(program: string): Promise<string[]> {
  return new Promise((res) => execFile('ldd', [program], { timeout: 10_000 }, (err, out) => {
    if (err) { res([]); return }
    res([...out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!).filter((p) => existsSync(p)))
  }))
}

/**
 * The environment inside, in Hercules CI's order: its defaults, then the derivation's
 * variables, then the forced temporary directories.
 */
export function sandboxEnvironment(d: EffectDerivation, o: Pick<SandboxOptions, 'projectId' | 'projectPath'>): Record<string, string> {
  return {
    PATH: '/path-not-set', HOME: '/homeless-shelter', NIX_STORE: '/nix/store', NIX_BUILD_CORES: '1', NIX_REMOTE: 'daemon',
    IN_HERCULES_CI_EFFECT: 'true', HERCULES_CI_SECRETS_JSON: SECRETS_IN_SANDBOX,
    HERCULES_CI_PROJECT_ID: o.projectId, HERCULES_CI_PROJECT_PATH: o.projectPath,
    ...d.env,
    NIX_BUILD_TOP: '/build', TMPDIR: '/build', TEMPDIR: '/build', TMP: '/build', TEMP: '/build',
    NIX_LOG_FD: '2', TERM: 'xterm-256color',
  }
}

/**
 * bubblewrap's arguments: a new root (a tmpfs of the sandbox's own) with only /nix/store
 * (read-only), the nix daemon socket when there is one, the extra paths (read-only),
 * /etc/resolv.conf, fresh /build and /tmp, /proc, a minimal /dev and the secrets file
 * (read-only); every namespace but the network is new; uid 0 inside. A builder outside the
 * store (`/bin/sh` in flakes without nixpkgs) is bound read-only with the libraries it loads.
 */
export async function bwrapArgs(d: EffectDerivation, o: SandboxOptions): Promise<string[]> {
  const a = ['--unshare-all', '--share-net', '--new-session', '--die-with-parent', '--hostname', 'hercules-ci', '--uid', '0', '--gid', '0',
    '--ro-bind', '/nix/store', '/nix/store']
  const socket = o.daemonSocket ?? DAEMON_SOCKET
  if (existsSync(socket)) a.push('--bind', socket, DAEMON_SOCKET)
  for (const p of o.extraSandboxPaths) a.push('--ro-bind', p, p)
  if (!d.builder.startsWith('/nix/store/') && isAbsolute(d.builder) && existsSync(d.builder)) {
    a.push('--ro-bind', d.builder, d.builder)
    for (const lib of await sharedLibraries(d.builder)) a.push('--ro-bind', lib, lib)
  }
  a.push('--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf',
    '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/build', '--tmpfs', '/tmp',
    '--ro-bind', o.secretsFile, SECRETS_IN_SANDBOX, '--chdir', '/build', '--', d.builder, ...d.args)
  return a
}

export interface RunInSandboxOptions extends SandboxOptions {
  signal?: AbortSignal
  onOutput?(text: string, stream: 'o' | 'e'): void
  /** Called with the full bwrap command line (for --debug). */
  onCommand?(argv: string[]): void
}

/** Runs the effect's builder in the sandbox; its output streams to `onOutput`. */
export async function runInSandbox(d: EffectDerivation, o: RunInSandboxOptions): Promise<ProcessResult> {
  const args = await bwrapArgs(d, o)
  o.onCommand?.(['bwrap', ...args])
  return runProcess(bwrapPath(), args, { env: sandboxEnvironment(d, o), signal: o.signal, onOutput: o.onOutput, collectStdout: false })
}

/** bubblewrap from PATH (Debian: /usr/bin/bwrap). */
export function bwrapPath(): string {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) if (dir && existsSync(`${dir}/bwrap`)) return `${dir}/bwrap`
  return 'bwrap'
}
