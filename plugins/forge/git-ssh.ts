import type { GitAccess } from '../../core/index.ts'

/** Quotes a path for the shell git runs `GIT_SSH_COMMAND` with. */
const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

export interface SshKeyOptions {
  /** The private key git's ssh uses (mode 0600; ssh refuses others). */
  privateKeyFile: string
  /** The known_hosts file the server's host key must be in (default: ssh's own). */
  knownHostsFile?: string | null
}

/**
 * Environment making git's ssh use one key and check the server's host key strictly: an unknown
 * or changed host key is refused ("Host key verification failed"), never added; no password or
 * passphrase prompt can hang a build.
 */
export function sshGitAccess(o: SshKeyOptions): GitAccess {
  const parts = ['ssh', '-i', sh(o.privateKeyFile), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes']
  if (o.knownHostsFile) parts.push('-o', sh(`UserKnownHostsFile=${o.knownHostsFile}`), '-o', 'GlobalKnownHostsFile=/dev/null')
  return { env: { GIT_SSH_COMMAND: parts.join(' '), GIT_SSH_VARIANT: 'ssh' } }
}

/** True for the URLs git fetches over ssh: `ssh://…` and scp-like `user@host:path`. */
export const isSshUrl = (url: string): boolean => url.startsWith('ssh://') || (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && /^[^/]+:/.test(url))

/** Explains git's ssh failures in words an operator can act on. */
export function explainSshFailure(stderr: string, knownHostsFile?: string | null): string | undefined {
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i.test(stderr)) {
    return `the server's SSH host key is not in ${knownHostsFile ?? "ssh's known_hosts"} (or does not match it): the connection was refused; add the server's key (ssh-keyscan) after checking its fingerprint`
  }
  if (/Permission denied \(publickey/i.test(stderr)) return 'the server refused the SSH key (Permission denied): add its public key to the account or deploy keys'
  return undefined
}
