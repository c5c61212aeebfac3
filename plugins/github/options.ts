import { z } from '../../core/index.ts'

const names = (description: string, example: string[]) => z.array(z.string().min(1)).nullable().meta({ description, examples: [example] }).optional()

/** The options of `github({...})`, named as buildbot-nix's NixOS options `services.buildbot-nix.master.github.*`. */
export const githubOptionsSchema = z.strictObject({
  appId: z.union([z.number().int().min(1), z.string().regex(/^\d+$/, { error: "must be the App's numeric id, e.g. 123456" }).transform(Number)])
    .meta({ description: "the GitHub App's id (its settings page, 'App ID')", examples: [123456] }),
  appSecretKeyFile: z.string().min(1).meta({ description: "file with the App's private key (PEM), as downloaded from the App's settings", examples: ['/run/secrets/github-app-secret-key'] }),
  webhookSecretFile: z.string().min(1).meta({ description: 'file with the webhook secret (the same text as in the App settings); deliveries are checked against it', examples: ['/run/secrets/github-webhook-secret'] }),
  oauthId: z.string().min(1).nullable().meta({ description: "the App's OAuth client id; used by the GitHub login (auth plugin), not by this plugin" }).optional(),
  oauthSecretFile: z.string().min(1).nullable().meta({ description: "file with the App's OAuth client secret; used by the GitHub login (auth plugin)" }).optional(),
  topic: z.string().min(1).nullable().default('build-with-buildbot').meta({ description: 'only repositories with this topic are built (null: every repository the App is installed on)', examples: ['build-with-buildbot'] }),
  userAllowlist: names('owners (users, organisations) whose repositories are built; with repoAllowlist unset too, any owner. Their pull requests also build trusted', ['acme']),
  repoAllowlist: names('`owner/repo` names that are built', ['acme/app']),
  apiBaseUrl: z.url({ protocol: /^https?$/ }).default('https://api.github.com').meta({ description: 'the REST API: `https://api.github.com`, or `https://<host>/api/v3` for GitHub Enterprise Server' }),
  webhookBaseUrl: z.url({ protocol: /^https?$/ }).optional().meta({ description: "base URL GitHub reaches this master at (default `buildbotURL`); hooks point at `<webhookBaseUrl>change_hook/github`" }),
  createWebhooks: z.boolean().default(true).meta({ description: "create each repository's webhook (push, pull_request) when missing; false when the App's own webhook is used" }),
  checks: z.boolean().default(false).meta({ description: 'also report each evaluation as a Check Run with a summary table and a "Rebuild failed" action (needs "Checks: Read and write" and the check_run event)' }),
  memberRoles: z.boolean().default(false).meta({ description: "members of the organisation owning a project may force, rebuild, stop and cancel its builds, asked of GitHub as the App (private memberships count); turn on when the master's login is GitHub's, so user names are GitHub logins" }),
  buildTags: z.boolean().default(false).meta({ description: 'build pushed tags (default: ignored, as branch deletions are)' }),
  discoveryInterval: z.number().positive().default(43_200).meta({ description: 'seconds between repository discoveries (default 12 hours); also on `reload` and installation webhooks' }),
  requestSpacing: z.number().int().min(0).default(1000).meta({ description: 'milliseconds between write requests to GitHub (its advice against secondary rate limits; default 1000)' }),
  retry: z.strictObject({
    initialMs: z.number().int().min(1).optional(),
    maxMs: z.number().int().min(1).optional(),
  }).optional().meta({ description: 'backoff of our calls to GitHub after errors: initialMs (default 1000) doubling up to maxMs (default 10 min)' }),
})

export type GitHubPluginOptions = z.input<typeof githubOptionsSchema>
export type GitHubOptions = z.output<typeof githubOptionsSchema>
