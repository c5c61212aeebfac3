/**
 * How git reaches a repository that needs credentials: environment for the git process (an SSH
 * command with a key and known_hosts, a credential helper reading a token from the environment)
 * and the secret values in it, which are redacted wherever text is stored or logged.
 */
export interface GitAccess {
  env: Record<string, string>
  secrets?: string[]
}

/**
 * A plugin's answer for the URLs it knows (`api.addGitAccess`): the Gitea plugin gives its
 * token for its instance's HTTPS URLs, the pull-based plugin its SSH key for its repositories.
 * Core's git step, the git poller and the Nix plugin's merge step ask for every URL they fetch.
 */
export interface GitAccessProvider {
  name: string
  forUrl(url: string): GitAccess | undefined | Promise<GitAccess | undefined>
}

/** The first provider's answer for `url`; its secrets are handed to `remember` (for redaction). */
export async function gitAccessFor(providers: readonly GitAccessProvider[], url: string, remember: (secret: string) => void): Promise<GitAccess | undefined> {
  for (const p of providers) {
    const a = await p.forUrl(url)
    if (a) { for (const s of a.secrets ?? []) remember(s); return a }
  }
  return undefined
}
