/**
 * The variables a build on the master's machine gets from the master's environment: what a shell,
 * git and nix need to find their tools, home, locale, temporary directory, store, daemon and
 * certificates. Nothing else passes: the master's environment holds its own credentials
 * (`BUILDBOT_SECRET_*`, tokens, database URLs) and a build runs code from its source.
 */
export const PASSED_ENVIRONMENT: readonly string[] = [
  'PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR',
  'NIX_PATH', 'NIX_REMOTE', 'NIX_CONF_DIR', 'NIX_USER_CONF_FILES', 'NIX_SSL_CERT_FILE', 'NIX_STORE_DIR', 'NIX_STATE_DIR',
  'NIX_LOG_DIR', 'NIX_DAEMON_SOCKET_PATH', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'GIT_SSL_CAINFO',
  // nix settings given in the environment (`builders = ...`) and the ssh options of remote builders
  'NIX_CONFIG', 'NIX_SSHOPTS',
]

/**
 * A build's base environment: the PASSED_ENVIRONMENT variables that are set in `from` (the
 * master's), plus `extraNames` the operator chose to pass (`localWorker({ passEnvironment })`).
 * A step's own `env` goes on top of this.
 */
export function minimalEnvironment(from: NodeJS.ProcessEnv = process.env, extraNames: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of [...PASSED_ENVIRONMENT, ...extraNames]) {
    const v = from[name]
    if (v != null) env[name] = v
  }
  return env
}
