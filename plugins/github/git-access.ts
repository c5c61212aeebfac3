import type { GitAccess } from '../../core/index.ts'

/** The variable the credential helper reads the token from (set only in git's environment). */
const TOKEN_VAR = 'BUILDBOT_NIX_GITHUB_TOKEN'

/**
 * HTTPS access to one repository with an installation token (user `x-access-token`, as GitHub
 * asks of Apps): a credential helper scoped to the clone URL, answering with the token from git's
 * environment. The token is never in a URL, a change or a property, and is redacted wherever core
 * stores text.
 */
export function installationGitAccess(cloneUrl: string, token: string): GitAccess {
  const origin = new URL(cloneUrl).origin
  return {
    env: {
      GIT_CONFIG_COUNT: '3',
      // An empty helper first: no helper of the machine answers for this URL.
      GIT_CONFIG_KEY_0: `credential.${cloneUrl}.helper`, GIT_CONFIG_VALUE_0: '',
      GIT_CONFIG_KEY_1: `credential.${cloneUrl}.helper`,
      GIT_CONFIG_VALUE_1: `!f() { test "$1" = get || return 0; echo username=x-access-token; echo "password=$${TOKEN_VAR}"; }; f`,
      // The helper is scoped to the repository's path, which git compares only with useHttpPath.
      GIT_CONFIG_KEY_2: `credential.${origin}.useHttpPath`, GIT_CONFIG_VALUE_2: 'true',
      [TOKEN_VAR]: token,
    },
    secrets: [token],
  }
}
