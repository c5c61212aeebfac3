import { z } from '../../core/index.ts'

const file = (description: string) => z.string().min(1).meta({ description })

/** The options of `gitea({...})`, named as buildbot-nix's NixOS options `services.buildbot-nix.master.gitea.*`. */
export const giteaOptionsSchema = z.strictObject({
  instanceUrl: z.url({ error: "must be the Gitea or Forgejo instance's URL, e.g. 'https://git.example.org'" }).meta({ description: 'the Gitea or Forgejo instance', examples: ['https://git.example.org'] }),
  tokenFile: file("a file holding the API token of the buildbot user (scopes `write:repository`, `write:user`, and `read:organization` to trust pull requests of organisation members)"),
  webhookSecretFile: file('a file holding the secret the webhooks are signed with'),
  oauthId: z.string().min(1).meta({ description: "NixOS option name kept for recognition: sign-in is configured in auth({ authBackend: 'gitea', gitea: {...} })" }).optional(),
  oauthSecretFile: file("NixOS option name kept for recognition: sign-in is configured in auth({ authBackend: 'gitea', gitea: {...} })").optional(),
  topic: z.string().min(1).nullable().default('build-with-buildbot').meta({ description: 'only repositories with this topic are built (null: all the user administers)' }),
  userAllowlist: z.array(z.string()).nullable().meta({ description: 'only repositories of these users and organisations' }).optional(),
  repoAllowlist: z.array(z.string()).nullable().meta({ description: 'only these repositories (`owner/repo`)' }).optional(),
  sshPrivateKeyFile: file('clone over SSH with this key instead of HTTPS with the token').nullable().optional(),
  sshKnownHostsFile: file("known_hosts with the instance's SSH host key (checked strictly)").nullable().optional(),
  webhookBaseUrl: z.url().meta({ description: 'base URL Gitea sends webhooks to (default: buildbotURL); hooks go to `<webhookBaseUrl>change_hook/gitea`' }).optional(),
  discoveryInterval: z.number().int().min(60).meta({ description: 'seconds between discoveries of repositories (default 43200: 12 hours)' }).optional(),
})
export type GiteaOptions = z.output<typeof giteaOptionsSchema>
export type GiteaOptionsInput = z.input<typeof giteaOptionsSchema>
