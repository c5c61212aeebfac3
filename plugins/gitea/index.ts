import { readFile } from 'node:fs/promises'
import { definePlugin, type PluginRuntime, type ProjectEntity, type ProjectSpec } from '../../core/index.ts'
import { NixKey } from '../nix/index.ts'
import { createDeliveryDedup, createDiscoveryLoop, deliveryStoreOf, sshGitAccess, type DiscoveryLoop } from '../forge/index.ts'
import { giteaOptionsSchema, type GiteaOptions } from './options.ts'
import { createGiteaApi, type GiteaApi } from './gitea-api.ts'
import { discoverGitea } from './discovery.ts'
import { handleGiteaHook } from './change-hook.ts'
import { giteaStatusReporter } from './statuses.ts'
import { onInstance, tokenGitAccess } from './git-access.ts'

export type { GiteaOptions, GiteaOptionsInput } from './options.ts'

const SOURCE = 'gitea'

const readSecretFile = async (file: string, what: string): Promise<string> => {
  try {
    const v = (await readFile(file, 'utf8')).trim()
    if (!v) throw new Error('it is empty')
    return v
  } catch (err) {
    throw new Error(`reading ${what} ${file} failed: ${(err as Error).message}`)
  }
}

interface GiteaState {
  rt?: PluginRuntime
  api?: GiteaApi
  loop?: DiscoveryLoop
  /** This plugin's registered projects, by name. */
  projects: Map<string, ProjectEntity>
}

/** Follows the registry: the projects this source registered (for statuses and git access). */
async function followProjects(rt: PluginRuntime, state: GiteaState): Promise<void> {
  const mine = (p: ProjectEntity) => p.source === SOURCE
  for (const p of await rt.projects.list()) if (mine(p)) state.projects.set(p.name, p)
  const sub = rt.projects.subscribe((ev) => {
    if (ev.type !== 'removed' && mine(ev.project)) state.projects.set(ev.project.name, ev.project)
    else if (state.projects.get(ev.project.name)?.source === SOURCE) state.projects.delete(ev.project.name)
  })
  rt.signal.addEventListener('abort', () => sub.unsubscribe(), { once: true })
}

/**
 * Gitea and Forgejo, as buildbot-nix's integration: discovers the repositories the token's user
 * administers (topic and allowlists), registers them as projects and gives each a webhook;
 * `/change_hook/gitea` turns signed pushes and pull requests into changes; the Nix plugin's
 * statuses go to this instance for its projects only; clones use the token over HTTPS (never
 * shown) or an SSH key with strict known_hosts. Projects carry `forge: 'gitea'` and their owner,
 * so the auth plugin's Gitea sign-in lets members of the owning organisation control their builds.
 *
 * @example
 * ```ts
 * plugins: [nix({ workers: ['local'], projects: [] }), gitea({ instanceUrl: 'https://git.example.org', tokenFile: '/run/secrets/gitea-token', webhookSecretFile: '/run/secrets/gitea-webhook-secret' })]
 * ```
 */
export const gitea = definePlugin({
  name: 'gitea',
  options: giteaOptionsSchema,
  requires: [NixKey],
  setup(api, o: GiteaOptions) {
    for (const k of ['oauthId', 'oauthSecretFile'] as const) {
      if (o[k]) api.error(k, `sign-in with Gitea is the auth plugin's: move it to auth({ authBackend: 'gitea', gitea: { instanceUrl, oauthId, oauthSecretFile } })`)
    }
    if (o.sshKnownHostsFile && !o.sshPrivateKeyFile) api.error('sshKnownHostsFile', 'is used only with sshPrivateKeyFile (cloning over SSH); set both or neither')
    const instanceUrl = o.instanceUrl.replace(/\/+$/, '')
    const state: GiteaState = { projects: new Map() }
    const token = () => readSecretFile(o.tokenFile, 'the Gitea token file')
    const webhookSecret = () => readSecretFile(o.webhookSecretFile, 'the Gitea webhook secret file')
    const dedup = createDeliveryDedup({ store: () => state.rt && deliveryStoreOf(state.rt, 'gitea') })

    api.addProjectSource({
      name: SOURCE,
      discover: async () => {
        if (!state.loop) throw new Error('the gitea plugin is not running')
        return state.loop.discover()
      },
    })

    api.addChangeHook({
      dialect: 'gitea',
      async handle(req) {
        const rt = state.rt, gapi = state.api
        if (!rt || !gapi) return { status: 503, body: 'the gitea plugin is not running' }
        return handleGiteaHook({
          secret: webhookSecret, dedup,
          project: async (name) => {
            const p = state.projects.get(name) ?? await rt.projects.get(name)
            return p?.source === SOURCE ? p : undefined
          },
          addChange: (spec) => rt.data.changes.addChange(spec),
          canWrite: async (owner, repo, user) => (await gapi.request('GET', `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/collaborators/${encodeURIComponent(user)}`)).status === 204,
          isOrgMember: async (org, user) => (await gapi.request('GET', `/orgs/${encodeURIComponent(org)}/members/${encodeURIComponent(user)}`)).status === 204,
        }, req)
      },
    })

    api.addGitAccess({
      name: SOURCE,
      async forUrl(url) {
        if (o.sshPrivateKeyFile) {
          for (const p of state.projects.values()) if (p.clone_url === url) return sshGitAccess({ privateKeyFile: o.sshPrivateKeyFile, knownHostsFile: o.sshKnownHostsFile })
          return undefined
        }
        return onInstance(instanceUrl, url) ? tokenGitAccess(instanceUrl, await token()) : undefined
      },
    })

    const reporter = giteaStatusReporter(() => state.api)
    api.addReporter(reporter)
    // Only this instance's projects: a GitHub project's statuses never come here, nor these there.
    api.use(NixKey).reportStatuses(reporter, { filter: (ev) => state.projects.has(ev.project), repository: (ev) => ev.project })

    api.onStart(async (rt) => {
      state.rt = rt
      const gapi = createGiteaApi({ instanceUrl, token, signal: rt.signal })
      state.api = gapi
      await followProjects(rt, state)
      const hookUrl = `${(o.webhookBaseUrl ?? rt.buildbotURL).replace(/\/*$/, '/')}change_hook/gitea`
      state.loop = createDiscoveryLoop({
        name: SOURCE, log: rt.log, signal: rt.signal, intervalMs: (o.discoveryInterval ?? 43_200) * 1000,
        discover: async (): Promise<ProjectSpec[]> => (await discoverGitea({
          api: gapi, log: rt.log, hookUrl, webhookSecret, ssh: !!o.sshPrivateKeyFile,
          topic: o.topic, userAllowlist: o.userAllowlist, repoAllowlist: o.repoAllowlist,
        })).map((p) => p.spec),
        apply: (specs) => rt.projects.sync(SOURCE, specs),
      })
      // The master asks every project source once it has started; the loop repeats and retries.
      state.loop.start()
    })
    api.onStop(() => { state.rt = undefined; state.api = undefined; state.loop = undefined })
  },
})
