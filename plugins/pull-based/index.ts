import { changes, definePlugin, type ProjectSpec } from '../../core/index.ts'
import { NixKey } from '../nix/index.ts'
import { isSshUrl, sshGitAccess } from '../forge/index.ts'
import { pullBasedOptionsSchema, type PullBasedOptions } from './options.ts'
import { pollOffsets } from './spread.ts'

export type { PullBasedOptions, PullBasedRepository } from './options.ts'
export { pollOffsets } from './spread.ts'

const SOURCE = 'pull-based'

/**
 * buildbot-nix's pull-based repositories: git URLs polled for their default branch and built like
 * forge projects (without statuses). Polls of many repositories are spread; over SSH each uses
 * its own or the global key and known_hosts with strict host key checking. The poller keeps
 * the last revision it saw in the database, so a master restart does not build it again.
 *
 * @example
 * ```ts
 * pullBased({ repositories: { 'acme/app': { url: 'ssh://git@git.example.org/acme/app.git', defaultBranch: 'main' } }, sshPrivateKeyFile: '/run/secrets/pull-key', sshKnownHostsFile: '/etc/buildbot/known_hosts' })
 * ```
 */
export const pullBased = definePlugin({
  name: 'pull-based',
  options: pullBasedOptionsSchema,
  // The Nix plugin builds what is in the registry; it must be there to build these.
  requires: [NixKey],
  setup(api, o: PullBasedOptions) {
    const repos = Object.entries(o.repositories).map(([name, r]) => ({
      name, url: r.url, defaultBranch: r.defaultBranch, pollInterval: r.pollInterval ?? o.pollInterval,
      key: r.sshPrivateKeyFile === undefined ? o.sshPrivateKeyFile ?? null : r.sshPrivateKeyFile,
      knownHosts: r.sshKnownHostsFile === undefined ? o.sshKnownHostsFile ?? null : r.sshKnownHostsFile,
    }))
    for (const r of repos) {
      if (r.key && !isSshUrl(r.url)) api.error(`repositories.${r.name}.url`, `an SSH key is configured but '${r.url}' is not an SSH URL; use ssh://user@host/path or user@host:path, or set sshPrivateKeyFile: null for this repository`)
      const dup = repos.find((x) => x !== r && x.url === r.url)
      if (dup && dup.name < r.name) api.error(`repositories.${r.name}.url`, `'${r.url}' is also repository '${dup.name}'; list each URL once`)
    }
    const spread = o.pollSpread ?? Math.min(...repos.map((r) => r.pollInterval), o.pollInterval)
    const offsets = pollOffsets(repos.map((r) => r.name), spread)

    api.addGitAccess({
      name: SOURCE,
      forUrl(url) {
        const r = repos.find((x) => x.url === url)
        return r?.key ? sshGitAccess({ privateKeyFile: r.key, knownHostsFile: r.knownHosts }) : undefined
      },
    })

    // One poller per repository, its first poll offset so polls are spread; changes carry the
    // URL as repository, which is how the Nix plugin's schedulers recognise the project.
    const groups = repos.map((r) => ({
      key: `poll:${r.name}`,
      group: {
        builders: [], schedulers: [],
        changeSources: [changes.gitPoller({
          name: `pull-based:${r.name}`, repourl: r.url, branches: [r.defaultBranch], pollInterval: r.pollInterval,
          project: r.name, firstPollDelay: offsets.get(r.name) ?? 0, skipKnownRevisions: true,
        })],
      },
    }))
    for (const g of groups) api.checkParts(g.key, g.group)

    api.onStart(async (rt) => {
      const specs: ProjectSpec[] = repos.map((r) => ({ name: r.name, forge: 'git', cloneUrl: r.url, defaultBranch: r.defaultBranch, webUrl: null }))
      await rt.projects.sync(SOURCE, specs)
      for (const g of groups) await rt.parts.set(g.key, g.group)
    })
  },
})
