/** An installation token and when GitHub says it expires. */
export interface InstallationToken { token: string; expiresAt: string }

export interface TokenCache {
  /** A valid token of the installation: cached, renewed when 80 % of its lifetime has passed. */
  get(installationId: number): Promise<string>
  /** Drops the installation's token if it is still `token` (GitHub answered 401: expired or revoked). */
  invalidate(installationId: number, token: string): void
}

/**
 * Installation tokens per installation, as buildbot-nix's users asked of it: renewed before they
 * expire (at 80 % of the lifetime GitHub gave), fetched once when several callers need one at the
 * same time, and dropped on a 401 so the next call gets a fresh one.
 */
export function createTokenCache(fetchToken: (installationId: number) => Promise<InstallationToken>, now: () => number = Date.now): TokenCache {
  const entries = new Map<number, { token: string; renewAt: number }>()
  const pending = new Map<number, Promise<string>>()
  return {
    async get(id) {
      const e = entries.get(id)
      if (e && now() < e.renewAt) return e.token
      let p = pending.get(id)
      if (!p) {
        const asked = now()
        p = fetchToken(id).then((t) => {
          const expires = Date.parse(t.expiresAt)
          const renewAt = Number.isFinite(expires) ? asked + Math.max(0, expires - asked) * 0.8 : asked + 40 * 60_000
          entries.set(id, { token: t.token, renewAt })
          return t.token
        }).finally(() => pending.delete(id))
        pending.set(id, p)
      }
      return p
    },
    invalidate(id, token) {
      if (entries.get(id)?.token === token) entries.delete(id)
    },
  }
}
