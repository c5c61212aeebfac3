import type { Logger, PluginRuntime } from '../../core/index.ts'
import type { NixApi, NixAttributeFinished, NixEvalInfo } from '../nix/index.ts'
import type { GitHubClient } from './client.ts'

/** The check run's name on the commit. */
export const CHECK_NAME = 'buildbot-nix'
/** The identifier of the "Rebuild failed" button. */
export const REBUILD_ACTION = 'rebuild-failed'

interface Run { repo: string; id: Promise<number | undefined>; failed: string[]; newlyFailing: string[]; stillFailing: string[]; fixed: string[]; passed: number }

const list = (names: string[], max = 30): string => names.length ? names.slice(0, max).map((n) => `\`${n}\``).join(', ') + (names.length > max ? `, … (${names.length - max} more)` : '') : '—'

/** The Markdown summary of one evaluation's results. */
export function checkSummary(r: Pick<Run, 'failed' | 'newlyFailing' | 'stillFailing' | 'fixed' | 'passed'>): string {
  return [
    '| | attributes |', '|---|---|',
    `| failed (${r.failed.length}) | ${list(r.failed)} |`,
    `| newly failing against the default branch (${r.newlyFailing.length}) | ${list(r.newlyFailing)} |`,
    `| fixed (${r.fixed.length}) | ${list(r.fixed)} |`,
    `| still failing (${r.stillFailing.length}) | ${list(r.stillFailing)} |`,
    `| passed | ${r.passed} |`,
  ].join('\n')
}

/**
 * One Check Run per evaluation (`checks: true`): in progress from the evaluation's start, then
 * completed with a summary table (failed, newly failing against the default branch, fixed, still
 * failing) and, when something failed, a "Rebuild failed" button. Calls go through the client's
 * throttling (writes spaced, rate limits waited once); a failure is logged, the statuses are the
 * durable record.
 */
export function reportCheckRuns(nix: NixApi, client: () => GitHubClient | undefined, log: () => Logger | undefined, isGitHub: (project: string) => boolean): () => void {
  const runs = new Map<number, Run>()
  const call = async (what: string, fn: (c: GitHubClient) => Promise<number | undefined>): Promise<number | undefined> => {
    const c = client()
    if (!c) return undefined
    try { return await fn(c) } catch (err) { log()?.error({ err: (err as Error).message, what }, 'a GitHub check run call failed'); return undefined }
  }
  const wanted = (ev: NixEvalInfo): ev is NixEvalInfo & { revision: string } => ev.revision != null && isGitHub(ev.project)
  const finish = async (buildid: number, body: Record<string, unknown>) => {
    const run = runs.get(buildid)
    if (!run) return
    runs.delete(buildid)
    const id = await run.id
    if (id == null) return
    const [owner, repo] = run.repo.split('/') as [string, string]
    await call('complete', async (c) => {
      await (await c.forRepo(run.repo)).request('PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}', {
        owner, repo, check_run_id: id, status: 'completed', completed_at: new Date().toISOString(), ...body,
      })
      return id
    })
  }
  const untaps = [
    nix.hooks.evalStarted.tap((ev) => {
      if (!wanted(ev)) return
      const [owner, repo] = ev.project.split('/') as [string, string]
      const run: Run = { repo: ev.project, failed: [], newlyFailing: [], stillFailing: [], fixed: [], passed: 0, id: Promise.resolve(undefined) }
      run.id = call('create', async (c) => Number((await (await c.forRepo(ev.project)).request('POST /repos/{owner}/{repo}/check-runs', {
        owner, repo, name: CHECK_NAME, head_sha: ev.revision, status: 'in_progress', details_url: ev.url, external_id: String(ev.buildid),
        started_at: new Date().toISOString(), output: { title: 'Evaluating', summary: `Evaluating ${ev.project} at ${ev.revision.slice(0, 12)}` },
      })).data.id))
      runs.set(ev.buildid, run)
      if (runs.size > 1000) runs.delete(runs.keys().next().value!)
    }),
    nix.hooks.attributeFinished.tap((ev: NixAttributeFinished) => {
      const run = runs.get(ev.buildid)
      if (!run || ev.state === 'cancelled') return
      if (ev.change === 'new-failure') { run.failed.push(ev.attr); run.newlyFailing.push(ev.attr) } else if (ev.change === 'still-failing') { run.failed.push(ev.attr); run.stillFailing.push(ev.attr) } else if (ev.change === 'fixed') { run.fixed.push(ev.attr); run.passed++ } else run.passed++
    }),
    nix.hooks.evalFinished.tap(async (ev) => {
      if (ev.results === 0 || ev.results === 1) return // the matrix reports
      await finish(ev.buildid, { conclusion: ev.results === 6 ? 'cancelled' : 'failure', output: { title: ev.results === 6 ? 'Cancelled' : 'The evaluation failed', summary: (ev.error ?? 'see the build').slice(0, 60_000) } })
    }),
    nix.hooks.matrixFinished.tap(async (ev) => {
      const run = runs.get(ev.buildid)
      if (!run) return
      const failed = run.failed.length
      await finish(ev.buildid, {
        conclusion: ev.results === 0 || ev.results === 1 ? 'success' : ev.results === 6 ? 'cancelled' : 'failure',
        output: { title: failed ? `${failed} attribute${failed === 1 ? '' : 's'} failed` : 'All attributes built', summary: checkSummary(run) },
        ...(failed ? { actions: [{ label: 'Rebuild failed', description: 'Build the failed attributes again', identifier: REBUILD_ACTION }] } : {}),
      })
    }),
  ]
  return () => { for (const u of untaps) u() }
}

/**
 * A check run's re-run (GitHub's "Re-run" or the "Rebuild failed" button): evaluates the same
 * source again through the project's force scheduler, with the original build's properties and
 * trust; the attributes built before are skipped, the failed ones built again.
 */
export async function rerunEvaluation(rt: PluginRuntime, project: string, evalBuildid: number, slug: (name: string) => string): Promise<string> {
  const build = await rt.data.builds.getBuild(evalBuildid)
  if (!build) return `no build ${evalBuildid}`
  const [req] = await rt.data.buildrequests.load([build.buildrequestid])
  const bs = req ? await rt.data.buildsets.getBuildset(req.buildsetid) : undefined
  const sched = rt.scheduler(`${slug(project)}-force`)
  if (!bs || !sched) return `the evaluation of ${project} cannot be run again here`
  const ss = bs.sourcestamps[0]!
  await sched.addBuildset({
    reason: `re-run requested on GitHub for build ${evalBuildid}`,
    sourcestamps: [{ branch: ss.branch, revision: ss.revision, repository: ss.repository, project: ss.project, codebase: ss.codebase }],
    properties: Object.fromEntries(Object.entries(bs.properties).map(([k, [v]]) => [k, v])),
    trusted: bs.trusted,
  })
  return `evaluating ${project} again`
}
