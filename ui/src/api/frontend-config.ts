/** The part of `/config` (or the injected `window.buildbotFrontendConfig`) the UI reads. */
export interface FrontendConfig {
  title?: string
  titleURL?: string
  buildbotURL?: string
  auth?: { name: string; oauth2?: boolean }
  user?: { anonymous?: boolean; username?: string; email?: string; full_name?: string }
  /** Added by this master: which actions the session may take. Absent = Buildbot's default authz (all allowed). */
  user_can?: Partial<Record<Action, boolean>>
  [key: string]: unknown
}

export type Action = 'force' | 'stop' | 'rebuild' | 'cancel' | 'reload'

/** Whether an action is offered, and why not when it is not. */
export function permission(config: FrontendConfig, action: Action): { allowed: boolean; reason?: string } {
  const allowed = config.user_can?.[action] ?? true
  if (allowed) return { allowed }
  const anonymous = config.user?.anonymous ?? true
  const canLogin = config.auth && config.auth.name !== 'NoAuth'
  return {
    allowed,
    reason: anonymous && canLogin ? `Log in to ${action}` : `You are not allowed to ${action}`,
  }
}

export function userName(config: FrontendConfig): string | undefined {
  const u = config.user
  if (!u || u.anonymous) return undefined
  return u.full_name || u.username || u.email
}
