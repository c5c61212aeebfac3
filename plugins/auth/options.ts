import { z } from '../../core/index.ts'

const url = (example: string) => z.string().regex(/^https?:\/\/[^/\s]+/, { error: `must be an http(s) URL, e.g. '${example}'` })
const file = z.string().min(1).meta({ description: 'path of a file holding the secret (relative paths are resolved against the basedir)' })

export const githubLoginSchema = z.strictObject({
  oauthId: z.string().min(1).meta({ description: "the GitHub App's (or OAuth app's) client ID" }),
  oauthSecretFile: file.meta({ description: "file holding the app's client secret" }),
  url: url('https://github.com').meta({ description: 'GitHub (Enterprise) web URL; default https://github.com' }).optional(),
  apiUrl: url('https://api.github.com').meta({ description: 'GitHub REST API URL; default https://api.github.com (Enterprise: <url>/api/v3)' }).optional(),
  teams: z.boolean().meta({ description: "add the user's teams as '<org>/<team>' groups (default true)" }).optional(),
})

export const giteaLoginSchema = z.strictObject({
  instanceUrl: url('https://git.example.org').meta({ description: 'the Gitea instance' }),
  oauthId: z.string().min(1).meta({ description: "the Gitea OAuth2 application's client ID" }),
  oauthSecretFile: file.meta({ description: "file holding the application's client secret" }),
})

export const oidcSchema = z.strictObject({
  name: z.string().min(1).meta({ description: "shown on the sign-in button (default 'OIDC Provider')" }).optional(),
  discoveryUrl: url('https://sso.example.org/.well-known/openid-configuration').meta({ description: "the provider's discovery document (or its issuer URL)" }),
  clientId: z.string().min(1),
  clientSecretFile: file,
  scope: z.array(z.string().min(1)).meta({ description: "scopes asked for (default ['openid', 'email', 'profile'])" }).optional(),
  mapping: z.strictObject({
    email: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    full_name: z.string().min(1).optional(),
    groups: z.string().min(1).nullable().optional(),
  }).meta({ description: "claims holding the user's fields (default email, preferred_username, name; groups: none)" }).optional(),
})

export const authOptionsSchema = z.strictObject({
  authBackend: z.enum(['github', 'gitea', 'oidc', 'none'])
    .meta({ description: "how users sign in; set www.auth to { provider: '<authBackend>' } too ('httpbasicauth' is the auth-oauth2-proxy plugin)" }),
  admins: z.array(z.string().min(1)).meta({ description: 'user names that may do everything, reloading projects included' }).optional(),
  allowUnauthenticatedControl: z.boolean().meta({ description: 'let everyone, signed in or not, control builds (default false)' }).optional(),
  github: githubLoginSchema.optional(),
  gitea: giteaLoginSchema.optional(),
  oidc: oidcSchema.optional(),
  apiTokens: z.boolean().meta({ description: 'signed-in users may create API tokens for scripts (default true)' }).optional(),
  privateRepositories: z.enum(['hidden', 'visible'])
    .meta({ description: "'hidden' (default): projects, builds and logs of a private repository are shown only to its owner's members and admins" }).optional(),
})

export type AuthOptions = z.output<typeof authOptionsSchema>
export type GithubLoginOptions = z.output<typeof githubLoginSchema>
export type GiteaLoginOptions = z.output<typeof giteaLoginSchema>
export type OidcOptions = z.output<typeof oidcSchema>
