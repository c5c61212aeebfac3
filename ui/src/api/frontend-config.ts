/** The part of `/config` (or the injected `window.buildbotFrontendConfig`) the UI reads. */
export interface FrontendConfig {
  title?: string
  titleURL?: string
  buildbotURL?: string
  /** `provider`, `label`, `kind` name the sign-in to offer: `form` = the login page, `redirect` = a link to `auth/<provider>/login`. */
  auth?: { name: string; oauth2?: boolean; provider?: string; label?: string; kind?: 'form' | 'redirect'; /** The user may make API tokens (`#/tokens`). */ api_tokens?: boolean }
  /** The session's proof for control requests, sent back in `X-CSRF-Token`. */
  csrf_token?: string
  user?: { anonymous?: boolean; username?: string; email?: string; full_name?: string }
  /** Added by this master: which actions the session may take. Absent = Buildbot's default authz (all allowed). */
  user_can?: Partial<Record<Action, boolean>>
  [key: string]: unknown
}

export type Action = 'force' | 'stop' | 'rebuild' | 'cancel' | 'reload' | 'worker'

const VERB: Record<Action, string> = { force: 'force', stop: 'stop', rebuild: 'rebuild', cancel: 'cancel', reload: 'reload', worker: 'control workers' }

/** Whether an action is offered, and why not when it is not. */
export function permission(config: FrontendConfig, action: Action): { allowed: boolean; reason?: string } {
  const allowed = config.user_can?.[action] ?? true
  if (allowed) return { allowed }
  const anonymous = config.user?.anonymous ?? true
  const canLogin = config.auth && config.auth.name !== 'NoAuth'
  return {
    allowed,
    reason: anonymous && canLogin ? `Log in to ${VERB[action]}` : `You are not allowed to ${VERB[action]}`,
  }
}

export function userName(config: FrontendConfig): string | undefined {
  const u = config.user
  if (!u || u.anonymous) return undefined
  return u.full_name || u.username || u.email
}

/** Where the header's login link goes: the login page for a form, the provider for a redirect. */
export function loginHref(config: FrontendConfig, redirect: string): string | undefined {
  const auth = config.auth
  if (!auth || auth.name === 'NoAuth') return undefined
  const r = encodeURIComponent(redirect)
  if (auth.kind === 'redirect' && auth.provider) return `auth/${encodeURIComponent(auth.provider)}/login?redirect=${r}`
  if (auth.kind === 'form') return `#/login?redirect=${r}`
  return `auth/login?redirect=${r}`
}
