import { z } from '../../core/index.ts'

export const oauth2ProxyOptionsSchema = z.strictObject({
  backend: z.enum(['github', 'gitea']).meta({ description: 'the forge oauth2-proxy signs users in with' }),
  clientId: z.string().min(1).meta({ description: "the forge OAuth application's client ID" }),
  clientSecretFile: z.string().min(1).meta({ description: "file holding the OAuth application's client secret (read by oauth2-proxy)" }),
  cookieSecretFile: z.string().min(1).meta({ description: "file holding oauth2-proxy's cookie secret (read by oauth2-proxy)" }),
  httpBasicAuthPasswordFile: z.string().min(1)
    .meta({ description: 'file holding the password oauth2-proxy sends with each request as Basic auth (the shared secret between proxy and master)' }),
  teams: z.array(z.string().min(1)).meta({ description: "teams allowed in ('org/team'); empty with users empty: anyone the forge signs in" }).optional(),
  users: z.array(z.string().min(1)).meta({ description: 'users allowed in (admins are always allowed)' }).optional(),
  admins: z.array(z.string().min(1)).meta({ description: 'user names that may do everything' }).optional(),
  port: z.number().int().min(1).max(65535).meta({ description: 'port oauth2-proxy listens on, on 127.0.0.1 (default 8020)' }).optional(),
  giteaUrl: z.string().regex(/^https?:\/\/[^/\s]+/, { error: "must be the Gitea instance's URL, e.g. 'https://git.example.org'" })
    .meta({ description: "backend 'gitea': the instance's URL" }).optional(),
  trustedHeaders: z.strictObject({
    proxyAddresses: z.array(z.string().min(1)).min(1).meta({ description: 'addresses the proxy connects from (e.g. 127.0.0.1); headers from anywhere else are refused' }),
    user: z.string().min(1).meta({ description: "header naming the user (default 'X-Forwarded-User')" }).optional(),
    email: z.string().min(1).meta({ description: "header with the user's email (default 'X-Forwarded-Email')" }).optional(),
    groups: z.string().min(1).meta({ description: "header with the user's groups, comma-separated (default 'X-Forwarded-Groups')" }).optional(),
  }).meta({ description: 'accept the identity from headers the proxy sets, only from its addresses (instead of, or besides, the Basic auth)' }).optional(),
  upstream: z.string().regex(/^https?:\/\/[^/\s]+/, { error: "must be the master's local URL, e.g. 'http://127.0.0.1:8010/'" })
    .meta({ description: "where oauth2-proxy forwards to: the master's www address (default http://127.0.0.1:8010/)" }).optional(),
  apiTokens: z.boolean().meta({ description: "signed-in users may make API tokens for scripts (Authorization: Bearer), sent to the master's own address: the proxy answers only its own sign-in (default true)" }).optional(),
  configFile: z.string().min(1).meta({ description: "where the master writes oauth2-proxy's configuration at start (default <basedir>/oauth2-proxy.cfg)" }).optional(),
})

export type Oauth2ProxyOptions = z.output<typeof oauth2ProxyOptionsSchema>
