import type { Oauth2ProxyOptions } from './options.ts'

const q = (s: string) => JSON.stringify(s)
const list = (xs: string[]) => `[${xs.map(q).join(', ')}]`

/**
 * oauth2-proxy's configuration file (its TOML-style `key = value` format) for a fully private
 * master, as buildbot-nix's NixOS module sets it: the forge login (Gitea through the github
 * provider with the instance's URLs), allowed users (with the admins) and teams, webhooks let
 * through, the API answered 401 instead of a redirect, and the shared password sent as Basic auth.
 */
export function oauth2ProxyConfig(o: Oauth2ProxyOptions, ctx: { buildbotURL: string; upstream: string; basicAuthPassword: string }): string {
  const users = [...new Set([...(o.users ?? []), ...(o.admins ?? [])])]
  const lines = [
    '# Written by buildbot-nix at start; oauth2-proxy --config <this file>',
    `provider = ${q('github')}`,
    `client_id = ${q(o.clientId)}`,
    `client_secret_file = ${q(o.clientSecretFile)}`,
    `cookie_secret_file = ${q(o.cookieSecretFile)}`,
    `http_address = ${q(`127.0.0.1:${o.port ?? 8020}`)}`,
    `upstreams = ${list([ctx.upstream])}`,
    `redirect_url = ${q(`${ctx.buildbotURL}oauth2/callback`)}`,
    `reverse_proxy = true`,
    `email_domains = ${list(['*'])}`,
    `scope = ${q('read:user user:email repo')}`,
    `skip_auth_routes = ${list(['^/change_hook'])}`,
    `api_routes = ${list(['^/api', '^/ws$'])}`,
    `set_basic_auth = true`,
    `basic_auth_password = ${q(ctx.basicAuthPassword)}`,
    `pass_user_headers = true`,
    `cookie_secure = ${ctx.buildbotURL.startsWith('https:')}`,
  ]
  if (users.length) lines.push(`github_users = ${list(users)}`)
  if (o.teams?.length) {
    const orgs = [...new Set(o.teams.map((t) => t.split('/')[0]!))]
    if (orgs.length === 1) lines.push(`github_org = ${q(orgs[0]!)}`)
    lines.push(`github_team = ${q(o.teams.map((t) => t.split('/').slice(1).join('/') || t).join(','))}`)
  }
  if (o.backend === 'gitea' && o.giteaUrl) {
    const g = o.giteaUrl.replace(/\/+$/, '')
    lines.push(`login_url = ${q(`${g}/login/oauth/authorize`)}`, `redeem_url = ${q(`${g}/login/oauth/access_token`)}`, `validate_url = ${q(`${g}/api/v1/user/emails`)}`)
  }
  return lines.join('\n') + '\n'
}
