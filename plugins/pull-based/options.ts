import { z } from '../../core/index.ts'

const seconds = (description: string) => z.number().int().positive({ error: 'must be a whole number of seconds > 0' }).meta({ description })
const file = (description: string) => z.string().min(1).nullable().meta({ description })

/** One repository polled over git (`services.buildbot-nix.master.pullBased.repositories.<name>`). */
export const pullBasedRepositorySchema = z.strictObject({
  url: z.string().min(1, { error: "a git URL, e.g. 'ssh://git@example.org/acme/app.git' or 'https://example.org/acme/app.git'" }).meta({ description: 'the git URL polled and cloned' }),
  defaultBranch: z.string().min(1).meta({ description: 'the branch polled and built', examples: ['main'] }),
  pollInterval: seconds('seconds between polls of this repository (default: pollInterval)').optional(),
  sshPrivateKeyFile: file('SSH key for this repository (default: sshPrivateKeyFile)').optional(),
  sshKnownHostsFile: file("known_hosts with the server's host key, checked strictly (default: sshKnownHostsFile)").optional(),
})

/** The options of `pullBased({...})`, named as the NixOS options `services.buildbot-nix.master.pullBased.*`. */
export const pullBasedOptionsSchema = z.strictObject({
  repositories: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, { error: 'a repository name: letters, digits, ".", "_", "-", "/"' }), pullBasedRepositorySchema)
    .meta({ description: 'repositories by project name' }),
  pollInterval: seconds('seconds between polls (default 60)').default(60),
  pollSpread: z.number().int().min(0).nullable().meta({ description: "first polls are spread over this many seconds (default: the poll interval); 0 polls all at once" }).optional(),
  sshPrivateKeyFile: file('SSH key for every repository without its own').optional(),
  sshKnownHostsFile: file("known_hosts for every repository without its own").optional(),
})
export type PullBasedOptions = z.output<typeof pullBasedOptionsSchema>
export type PullBasedRepository = z.output<typeof pullBasedRepositorySchema>
