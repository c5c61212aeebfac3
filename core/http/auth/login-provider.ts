import type { UserInfo } from '../master-surface.ts'

/** The user a login provider reports. `groups` are e.g. a GitHub user's organisations and `org/team`s. */
export interface LoginUser {
  username: string; email?: string; full_name?: string; groups?: string[]
  /** Other keys are kept in the session's user when they are strings, numbers or booleans (Buildbot keeps them too). */
  [extra: string]: unknown
}

/** What a redirect provider gets to build the identity provider's authorisation URL. */
export interface LoginStart {
  /** `<buildbotURL>auth/<name>/callback`: where the identity provider sends the browser back. */
  callbackURL: string
  /** An opaque value to hand to the identity provider (OAuth `state`); core checks it on the callback. */
  state: string
}

/** What a redirect provider's callback gets: the query of `/auth/<name>/callback` (state already checked). */
export interface LoginCallback {
  query: Record<string, string>
  callbackURL: string
}

/**
 * A way to log in, registered by a plugin with `api.addLoginProvider(...)` and chosen with
 * `www.auth: { provider: '<name>' }`. Core mounts `/auth/<name>/login` and
 * `/auth/<name>/callback`, checks the OAuth state, and keeps the session in a signed cookie.
 *
 * @example
 *   api.addLoginProvider({
 *     name: 'github', label: 'Sign in with GitHub',
 *     login: { kind: 'redirect', url: ({ callbackURL, state }) => `https://github.com/login/oauth/authorize?...&state=${state}` },
 *     async callback({ query }) { ...exchange query.code...; return { username, email, full_name, groups } },
 *   })
 */
export interface LoginProvider {
  /** URL segment and the value of `www.auth.provider`: letters, digits, `-` and `_`. */
  name: string
  /** Text of the UI's sign-in button, e.g. 'Sign in with GitHub'. */
  label: string
  /**
   * `redirect`: `/auth/<name>/login` sends the browser to `url(...)` (OAuth, OIDC).
   * `form`: the UI shows a username/password form; `check` answers the user or undefined.
   */
  login:
    | { kind: 'redirect'; url(start: LoginStart): string | Promise<string> }
    | { kind: 'form'; check(username: string, password: string): LoginUser | undefined | Promise<LoginUser | undefined> }
  /** Redirect providers: turns the callback's query (`code`, ...) into a user. Throw to refuse the login. */
  callback?(cb: LoginCallback): Promise<LoginUser>
  /**
   * The user of a request's `Authorization` header (scripts, a proxy in front). Answer undefined
   * when the credentials are wrong: the request is then refused with 401.
   */
  fromAuthorization?(header: string): LoginUser | undefined | Promise<LoginUser | undefined>
  /**
   * The user a trusted front (an authenticating proxy) vouches for on each request, asked before
   * the `Authorization` header and the session cookie: answer `{ user }`, `undefined` when the request
   * carries no such identity (the other ways are then tried), or `{ refuse }` when it carries one that
   * must not be accepted (wrong shared secret, identity headers from an address that is not the
   * proxy): the request is then answered 401 with that reason.
   */
  fromRequest?(req: ProxiedRequest): RequestIdentity | Promise<RequestIdentity>
  /**
   * Fully private: every request except `/change_hook/*` (pages, `/config`, the API, `/ws`, the
   * UI's files) must be identified (by `fromRequest`, `fromAuthorization` or a session); anyone
   * else gets 401 and nothing of the master.
   */
  requireIdentity?: boolean
  /**
   * The provider's users manage API tokens through JSON-RPC on `auth/tokens` (`list`, `create`,
   * `auth/tokens/<id>` `revoke`); `/config` says so (`auth.api_tokens`) and the UI offers its
   * tokens page.
   */
  apiTokens?: boolean
  /** Where the browser goes once the session is cleared (default: the UI). */
  logout?(user: UserInfo): string | undefined | Promise<string | undefined>
}

/** A `fromRequest` answer: the user, a refusal (answered 401), or nothing (other ways are tried). */
export type RequestIdentity = { user: LoginUser } | { refuse: string } | undefined

/** What `fromRequest` sees of a request: its headers and the address it came from. */
export interface ProxiedRequest {
  headers: Readonly<Record<string, string | string[] | undefined>>
  /** The peer's address as the socket reports it (`127.0.0.1`, `::1`, `::ffff:10.0.0.2`). */
  remoteAddress: string
  /** The request's path and query. */
  url: string
}

export const PROVIDER_NAME_RE = /^[A-Za-z0-9_-]+$/

/** The session's user from a provider's answer (Buildbot's `user_info`). */
export function userInfoOf(u: LoginUser): UserInfo {
  const out: UserInfo = {}
  for (const [k, v] of Object.entries(u)) {
    if (k !== 'anonymous' && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) out[k] = v
  }
  out.username = u.username
  if (u.email != null) out.email = u.email
  if (u.full_name != null) out.full_name = u.full_name
  if (u.groups?.length) out.groups = [...u.groups]
  return out
}
