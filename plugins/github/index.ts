import { readFile } from 'node:fs/promises'
import { Webhooks } from '@octokit/webhooks'
import { definePlugin, statusReporter, type PluginRuntime, type StatusUpdate } from '../../core/index.ts'
import { NixKey } from '../nix/index.ts'
import { createDeliveryDedup, createDiscoveryLoop, deliveryStoreOf, decidePullRequestTrust, type DiscoveryLoop } from '../forge/index.ts'
import { githubChangeHook } from './change-hook.ts'
import { createGitHubClient, type GitHubClient } from './client.ts'
import { discoverRepos } from './discovery.ts'
import { isCollaborator, isOrgMember } from './membership.ts'
import { githubOptionsSchema, type GitHubOptions } from './options.ts'
import { ensureRepoWebhook } from './repo-webhook.ts'
import { githubStatusSender } from './status-sender.ts'
import { githubMemberRoles } from './roles.ts'
import { installationGitAccess } from './git-access.ts'
import { REBUILD_ACTION, reportCheckRuns, rerunEvaluation } from './check-runs.ts'

export type { GitHubPluginOptions } from './options.ts'

/** What the plugin holds while it runs. */
interface Running { rt: PluginRuntime; client: GitHubClient; webhooks: Webhooks; loop: DiscoveryLoop; webhookSecret: string }

async function readSecretFile(path: string, option: string, what: string): Promise<string> {
  try {
    const text = (await readFile(path, 'utf8')).trim()
    if (!text) throw new Error('the file is empty')
    return text
  } catch (err) {
    throw new Error(`github: ${option} '${path}' cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): point it at ${what}`)
  }
}

const hookUrl = (o: GitHubOptions, buildbotURL: string): string => `${(o.webhookBaseUrl ?? buildbotURL).replace(/\/*$/, '/')}change_hook/github`

/**
 * GitHub through a GitHub App, as buildbot-nix does it: the App's installations and their
 * repositories with the topic (and allowlists) become projects; their webhooks are created;
 * `/change_hook/github` turns pushes and pull requests into changes (pull requests from outsiders
 * build without secrets); the Nix plugin's statuses go to the commits.
 *
 * @example
 * ```ts
 * plugins: [nix({ workers: ['local'], projects: [] }), github({ appId: 123456, appSecretKeyFile: '/run/secrets/github-app.pem', webhookSecretFile: '/run/secrets/github-webhook' })]
 * ```
 */
export const github = definePlugin({
  name: 'github',
  options: githubOptionsSchema,
  requires: [NixKey],
  setup(api, o) {
    const nixApi = api.use(NixKey)
    let run: Running | undefined
    const dedup = createDeliveryDedup({ store: () => run && deliveryStoreOf(run.rt, 'github') })
    const filter = { topic: o.topic, userAllowlist: o.userAllowlist, repoAllowlist: o.repoAllowlist }
    // Names of the registered GitHub projects: only their evaluations are reported here.
    const projects = new Set<string>()
    // Evaluation build → trusted, so an untrusted pull request's statuses say so.
    const trustOf = new Map<number, boolean>()

    const send = githubStatusSender({
      forRepo: (name) => { if (!run) throw new Error('the github plugin is not running'); return run.client.forRepo(name) },
    } as GitHubClient)
    const reporter = statusReporter({
      name: 'github-statuses', retry: o.retry,
      send: (u, signal) => (run ? send(u, signal) : Promise.resolve({ retryAfter: 2 })),
    })
    api.addReporter(reporter)
    const mark = (u: StatusUpdate): StatusUpdate => {
      const buildid = Number(u.extra?.buildid)
      if (!u.extra?.pullRequest || trustOf.get(buildid) !== false) return u
      const text = `Untrusted, no secrets: ${u.description ?? ''}`
      return { ...u, description: text.length > 140 ? text.slice(0, 137) + '...' : text }
    }
    const untapTrust = nixApi.hooks.evalStarted.tap((ev) => {
      if (!projects.has(ev.project)) return
      trustOf.set(ev.buildid, ev.trusted)
      if (trustOf.size > 2000) trustOf.delete(trustOf.keys().next().value!)
    })
    const stopChecks = o.checks ? reportCheckRuns(nixApi, () => run?.client, () => run?.rt.log, (p) => projects.has(p)) : () => {}
    const stopStatuses = nixApi.reportStatuses({ report: (u, opts) => reporter.report(mark(u), opts) }, { filter: (ev) => projects.has(ev.project) })

    // Organisations owning discovered repositories (their members may get roles).
    const orgs = new Set<string>()
    if (o.memberRoles) {
      api.addRoleMatcher(githubMemberRoles({
        isOrg: (owner) => orgs.has(owner.toLowerCase()),
        async isMember(org, login) {
          if (!run) return false
          const repo = [...projects].find((n) => n.toLowerCase().startsWith(`${org.toLowerCase()}/`))
          if (!repo) return false
          return isOrgMember(await run.client.forRepo(repo), org, login)
        },
      }))
    }

    // Private repositories are cloned with the installation's token (HTTPS clone URLs of GitHub projects only).
    const cloneUrls = new Map<string, string>()
    api.addGitAccess({
      name: 'github',
      async forUrl(url) {
        const name = cloneUrls.get(url)
        if (!name || !run || !/^https:\/\//.test(url)) return undefined
        const token = await run.client.tokens.get(await run.client.installationOf(name))
        return installationGitAccess(url, token)
      },
    })

    api.addProjectSource({
      name: 'github',
      discover: () => (run ? run.loop.discover() : Promise.reject(new Error('the github plugin is not running'))),
    })

    api.addChangeHook(githubChangeHook({
      running: () => run,
      dedup,
      buildTags: o.buildTags,
      rememberRepo: (name, id) => run?.client.rememberRepo(name, id),
      repositoriesChanged: (reason) => {
        run?.rt.log.info({ reason }, 'GitHub says repositories changed; discovering again')
        void run?.loop.trigger()
      },
      async trust(p) {
        const client = run!.client
        const baseRepo = p.repository.full_name
        const author = p.pull_request.user?.login ?? p.sender?.login ?? ''
        const kit = () => client.forRepo(baseRepo)
        return decidePullRequestTrust({
          author, baseRepo, headRepo: p.pull_request.head.repo?.full_name ?? null, allowlist: o.userAllowlist,
          isOrgMember: p.repository.owner.type === 'Organization' ? async () => isOrgMember(await kit(), p.repository.owner.login, author) : undefined,
          isCollaborator: async () => isCollaborator(await kit(), baseRepo, author),
          onLookupError: (what, err) => run?.rt.log.warn({ repo: baseRepo, author, lookup: what, err: (err as Error).message }, 'asking GitHub about a pull request author failed; counted as not trusted'),
        })
      },
      async pullRequestClosed(p, project) {
        const n = p.pull_request.number
        const cancelled = await run!.rt.cancelBuildsOf({ repository: project.cloneUrl, branch: `refs/pull/${n}/head` }, `pull request #${n} was closed`)
        if (cancelled) run!.rt.log.info({ repo: project.name, pr: n, cancelled }, 'pull request closed: its builds were cancelled')
        return cancelled
      },
      async extra(event, p) {
        if (event !== 'check_run' || !o.checks || !run) return undefined
        const cr = p.check_run as { name?: string; external_id?: string | null; app?: { id?: number } | null } | undefined
        const action = String(p.action)
        const wantsRebuild = action === 'rerequested' || (action === 'requested_action' && (p.requested_action as { identifier?: string } | undefined)?.identifier === REBUILD_ACTION)
        if (!wantsRebuild || cr?.name !== 'buildbot-nix' || (cr.app?.id != null && cr.app.id !== o.appId)) return { status: 200, body: `no change: check_run ${action}` }
        const project = (p.repository as { full_name?: string } | undefined)?.full_name
        const buildid = Number(cr.external_id)
        if (!project || !projects.has(project) || !Number.isInteger(buildid) || buildid <= 0) return { status: 200, body: 'no change: not a check run of this master' }
        return { status: 200, body: await rerunEvaluation(run.rt, project, buildid, (n) => n.replace(/[/.]/g, '-').replace(/[^A-Za-z0-9_-]/g, '_')) }
      },
    }))

    api.onStart(async (rt) => {
      const privateKey = await readSecretFile(o.appSecretKeyFile, 'appSecretKeyFile', "the App's private key (.pem) from the App's settings page")
      const webhookSecret = await readSecretFile(o.webhookSecretFile, 'webhookSecretFile', 'a file holding the webhook secret set in the App settings')
      const client = createGitHubClient({
        appId: o.appId, privateKey, baseUrl: o.apiBaseUrl, log: rt.log, requestSpacing: o.requestSpacing, retryBaseMs: o.retry?.initialMs ?? 1000,
      })
      const ensureHooks = async (names: { name: string; installationId: number }[]) => {
        const url = hookUrl(o, rt.buildbotURL)
        for (const r of names) {
          if (rt.signal.aborted) return
          try {
            if (await ensureRepoWebhook(client.installation(r.installationId), r.name, url, webhookSecret, o.checks ? ['push', 'pull_request', 'check_run'] : ['push', 'pull_request'])) rt.log.info({ repo: r.name, url }, 'created the repository webhook')
          } catch (err) {
            rt.log.error({ repo: r.name, err: (err as Error).message }, 'creating the repository webhook failed; pushes and pull requests of it are not seen until it exists')
          }
        }
      }
      const loop = createDiscoveryLoop({
        name: 'github', log: rt.log, signal: rt.signal, intervalMs: o.discoveryInterval * 1000,
        retry: { initialMs: o.retry?.initialMs ?? 5000, maxMs: o.retry?.maxMs },
        async discover() {
          const repos = await discoverRepos(client, filter, rt.log)
          rt.log.info({ repositories: repos.length }, 'GitHub repositories discovered')
          for (const r of repos) if (r.ownerIsOrg && r.spec.owner) orgs.add(r.spec.owner.toLowerCase())
          if (o.createWebhooks) void ensureHooks(repos.map((r) => ({ name: r.spec.name, installationId: r.installationId })))
          return repos.map((r) => r.spec)
        },
        apply: (specs) => rt.projects.sync('github', specs),
      })
      for (const p of await rt.projects.list()) {
        if (p.forge !== 'github') continue
        projects.add(p.name)
        if (p.clone_url) cloneUrls.set(p.clone_url, p.name)
      }
      const sub = rt.projects.subscribe((e) => {
        for (const [u, n] of cloneUrls) if (n === e.project.name) cloneUrls.delete(u)
        if (e.type === 'removed' || e.project.forge !== 'github') projects.delete(e.project.name)
        else {
          projects.add(e.project.name)
          if (e.project.clone_url) cloneUrls.set(e.project.clone_url, e.project.name)
        }
      })
      rt.signal.addEventListener('abort', () => sub.unsubscribe(), { once: true })
      run = { rt, client, webhooks: new Webhooks({ secret: webhookSecret }), loop, webhookSecret }
    })
    api.onStop(() => {
      run = undefined
      untapTrust()
      stopStatuses()
      stopChecks()
    })
  },
})
