import { App } from '@octokit/app'
import { Octokit as OctokitCore } from '@octokit/core'
import { throttling } from '@octokit/plugin-throttling'
import { retry } from '@octokit/plugin-retry'
import { paginateRest } from '@octokit/plugin-paginate-rest'
import Bottleneck from 'bottleneck'
import type { Logger } from '../../core/index.ts'
import { isMissingPermission, permissionFor } from './permissions.ts'
import { createTokenCache, type InstallationToken, type TokenCache } from './token-cache.ts'

/** Octokit with the throttling (GitHub's rate limits), retry (5xx) and pagination plugins. */
export const GitHubOctokit = OctokitCore.plugin(throttling, retry, paginateRest)
export type GitHubOctokit = InstanceType<typeof GitHubOctokit>

export interface GitHubClientOptions {
  appId: number
  privateKey: string
  baseUrl: string
  log: Logger
  /** Milliseconds between write requests (GitHub asks for about 1 s against secondary limits). */
  requestSpacing: number
  /** Base of the retry waits in ms (Octokit's retry and rate-limit waits are multiples of it). */
  retryBaseMs: number
}

export interface GitHubClient {
  /** The App (JWT-authenticated `app.octokit`; installations iterated with pagination). */
  app: App
  /** An Octokit acting as one installation (token cached and renewed, refreshed on a 401). */
  installation(installationId: number): GitHubOctokit
  /** The installation of `owner/repo`: known from discovery or webhooks, else asked of GitHub. */
  forRepo(fullName: string): Promise<GitHubOctokit>
  /** The installation serving `owner/repo`, asked of GitHub when not known yet. */
  installationOf(fullName: string): Promise<number>
  /** Records which installation serves a repository (discovery and webhooks know it). */
  rememberRepo(fullName: string, installationId: number): void
  tokens: TokenCache
}

/** Requests whose caller handles rate limits itself (the status outbox) pass `request: { outbox: true }`. */
interface RequestOptions { method: string; url: string; request?: { outbox?: boolean; retries?: number } }

/**
 * The GitHub App's API client: JWT for the App's own endpoints, installation tokens for the rest,
 * Octokit's throttling and retry, and a missing permission logged once with the permission to
 * grant, not as a stack trace.
 */
export function createGitHubClient(o: GitHubClientOptions): GitHubClient {
  const reported = new Set<string>()
  const log = {
    debug: (msg: string) => o.log.debug({ github: true }, msg),
    info: (msg: string) => o.log.info({ github: true }, msg),
    warn: (msg: string) => o.log.warn({ github: true }, msg),
    error: (msg: string) => o.log.error({ github: true }, msg),
  }
  // A limiter per client, not Octokit's process-wide one, so several masters in one process (tests) do not share it.
  const write = new Bottleneck.Group({ maxConcurrent: 1, minTime: o.requestSpacing })
  const onLimit = (kind: string) => (retryAfter: number, options: RequestOptions, _octokit: unknown, retryCount: number): boolean => {
    o.log.warn({ method: options.method, url: options.url, retryAfter, kind }, 'GitHub rate limit reached')
    // The outbox pauses and resends by itself; other calls wait once if the wait is short.
    return !options.request?.outbox && retryCount < 1 && retryAfter <= 60
  }
  const Octokit = GitHubOctokit.defaults({
    baseUrl: o.baseUrl.replace(/\/+$/, ''),
    log,
    throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary'), write, retryAfterBaseValue: o.retryBaseMs },
    retry: { retryAfterBaseValue: o.retryBaseMs },
  })
  const permissionHint = (err: unknown, options: RequestOptions): unknown => {
    if (!isMissingPermission(err)) return err
    const permission = permissionFor(options.method, options.url)
    if (!reported.has(permission)) {
      reported.add(permission)
      o.log.error({ method: options.method, url: options.url, permission }, `GitHub refused: the App lacks a permission; grant "${permission}" in the App's settings and accept it in each installation`)
    }
    return Object.assign(new Error(`GitHub refused ${options.method} ${options.url}: the App needs "${permission}"`), { status: 403, permission })
  }
  const app = new App({ appId: o.appId, privateKey: o.privateKey, Octokit, log })
  app.octokit.hook.wrap('request', async (request, options) => {
    try { return await request(options) } catch (err) { throw permissionHint(err, options as RequestOptions) }
  })
  const tokens = createTokenCache(async (installationId) => {
    const auth = await app.octokit.auth({ type: 'installation', installationId, refresh: true }) as InstallationToken
    return { token: auth.token, expiresAt: auth.expiresAt }
  })
  const installations = new Map<number, GitHubOctokit>()
  const repoInstallation = new Map<string, number>()

  function installation(installationId: number): GitHubOctokit {
    let kit = installations.get(installationId)
    if (kit) return kit
    kit = new Octokit()
    kit.hook.wrap('request', async (request, options) => {
      for (let attempt = 0; ; attempt++) {
        const token = await tokens.get(installationId)
        options.headers.authorization = `token ${token}`
        try {
          return await request(options)
        } catch (err) {
          if ((err as { status?: number }).status === 401 && attempt === 0) {
            o.log.warn({ installation: installationId }, 'GitHub refused the installation token (expired or revoked); fetching a new one')
            tokens.invalidate(installationId, token)
            continue
          }
          throw permissionHint(err, options as RequestOptions)
        }
      }
    })
    installations.set(installationId, kit)
    return kit
  }

  async function installationOf(fullName: string): Promise<number> {
    let id = repoInstallation.get(fullName.toLowerCase())
    if (id == null) {
      const [owner, repo] = fullName.split('/')
      const { data } = await app.octokit.request('GET /repos/{owner}/{repo}/installation', { owner: owner!, repo: repo! })
      id = data.id
      repoInstallation.set(fullName.toLowerCase(), id)
    }
    return id
  }

  return {
    app, installation, tokens,
    rememberRepo: (fullName, id) => { repoInstallation.set(fullName.toLowerCase(), id) },
    installationOf,
    async forRepo(fullName) { return installation(await installationOf(fullName)) },
  }
}
