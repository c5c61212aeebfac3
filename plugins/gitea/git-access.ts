import type { GitAccess } from '../../core/index.ts'

/** The variable the credential helper reads the token from (set only in git's environment). */
const TOKEN_VAR = 'BUILDBOT_NIX_GITEA_TOKEN'

/**
 * HTTPS access with the token: a credential helper scoped to the instance, answering with the
 * token from git's environment. The token is never in a URL (so never in git's messages, the
 * registry, a change or a property), and is redacted wherever core stores text.
 */
export function tokenGitAccess(instanceUrl: string, token: string): GitAccess {
  const scope = instanceUrl.replace(/\/+$/, '')
  return {
    env: {
      GIT_CONFIG_COUNT: '2',
      // An empty helper first: no helper of the machine answers for this instance.
      GIT_CONFIG_KEY_0: `credential.${scope}.helper`, GIT_CONFIG_VALUE_0: '',
      GIT_CONFIG_KEY_1: `credential.${scope}.helper`,
      GIT_CONFIG_VALUE_1: `!f() { test "$1" = get || return 0; echo username=buildbot; echo "password=$${TOKEN_VAR}"; }; f`,
      [TOKEN_VAR]: token,
    },
    secrets: [token],
  }
}

/** Whether `url` is on the instance (same scheme, host and port, under its path). */
export function onInstance(instanceUrl: string, url: string): boolean {
  try {
    const a = new URL(instanceUrl), b = new URL(url)
    const path = a.pathname.replace(/\/+$/, '') + '/'
    return a.protocol === b.protocol && a.host === b.host && b.pathname.startsWith(path)
  } catch { return false }
}
