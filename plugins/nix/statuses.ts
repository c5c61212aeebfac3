import { CANCELLED, EXCEPTION, FAILURE, RETRY, SUCCESS, worstStatus, type Result, type StatusState, type StatusUpdate } from '../../core/index.ts'
import { isFailedState, type NixAttributeFinished, type NixEvalInfo, type NixHooks } from './nix-hooks.ts'

/** Where statuses go: a status reporter (`statusReporter(...)`), or anything with its `report`. */
export interface StatusSink {
  report(update: StatusUpdate, opts?: { onlyIfReported?: boolean }): Promise<void>
}

export interface NixStatusOptions {
  /** Only these evaluations are reported (a forge plugin passes its own projects). Default: all. */
  filter?(ev: NixEvalInfo): boolean
  /** The status's `repository` (default: the project's name, `owner/repo` for forge projects). */
  repository?(ev: NixEvalInfo): string
  /** Prefix of every context (default `buildbot/`, as buildbot-nix). */
  contextPrefix?: string
  /**
   * Statuses per attribute (`<prefix>nix-build/<attr>`): `failures` (default, as buildbot-nix:
   * failures, and a later success of an attribute reported failed turns it green), `all`, or `none`.
   */
  attributes?: 'failures' | 'all' | 'none'
  /** At most this many attribute failures per evaluation (default: the plugin's `failedBuildReportLimit`). */
  attributeLimit?: number
}

/** A build result as a commit status: passed, failed, or could not tell (stopped, superseded, broken infrastructure). */
export function statusState(r: Result): StatusState {
  if (r === FAILURE) return 'failure'
  if (r === EXCEPTION || r === RETRY || r === CANCELLED) return 'error'
  return 'success'
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`

/** GitHub cuts descriptions at 140 characters; Gitea at 255. */
const cut = (s: string): string => (s.length > 140 ? s.slice(0, 137) + '...' : s)

function attributeDescription(ev: NixAttributeFinished, defaultBranch: string): string {
  const what = ev.state === 'eval-failed' ? 'failed to evaluate' : ev.state === 'dependency-failed' ? `not built: ${ev.reason ?? 'a dependency failed'}`
    : ev.state === 'cached-failure' ? 'failed before (cached failure)' : ev.state === 'failed' ? 'build failed'
      : ev.state === 'skipped' ? 'already built' : ev.state === 'cancelled' ? 'cancelled' : 'built'
  const vs = ev.change === 'new-failure' ? (ev.previous ? ` (new failure: passes on ${defaultBranch})` : ' (new failure)')
    : ev.change === 'still-failing' ? ` (also fails on ${defaultBranch})` : ev.change === 'fixed' ? ` (fixed: fails on ${defaultBranch})` : ''
  return cut(what + vs)
}

/**
 * Turns the Nix plugin's events into the commit statuses buildbot-nix users know:
 * - `buildbot/nix-eval`: pending when the evaluation starts, then its result ("Evaluated 12 attributes (2 warnings)").
 * - `buildbot/nix-build`: pending from the start, then the combined result of the whole matrix
 *   (the one to make a required check); a failed evaluation fails it too.
 * - `buildbot/nix-build/<attr>`: failed attributes (up to a limit per evaluation), saying whether
 *   the failure is new or also on the default branch; a later success turns one green.
 * - `buildbot/nix-effects`: pending and final result of the commit's effects.
 * Returns a function that stops reporting.
 */
export function reportNixStatuses(hooks: NixHooks, sink: StatusSink, opts: NixStatusOptions & { defaultLimit: number; defaultBranchOf(project: string): string }): () => void {
  const prefix = opts.contextPrefix ?? 'buildbot/'
  const mode = opts.attributes ?? 'failures'
  const limit = opts.attributeLimit ?? opts.defaultLimit
  // Failures reported per evaluation build (for the limit); dropped when its matrix or evaluation ends.
  const reported = new Map<number, number>()
  const wanted = (ev: NixEvalInfo): ev is NixEvalInfo & { revision: string } => ev.revision != null && (opts.filter ? opts.filter(ev) : true)
  const send = (ev: NixEvalInfo & { revision: string }, context: string, state: StatusState, description: string, targetUrl = ev.url, onlyIfReported = false): Promise<void> =>
    sink.report({
      repository: opts.repository ? opts.repository(ev) : ev.project, revision: ev.revision, context: prefix + context, state,
      description: cut(description), targetUrl, extra: { project: ev.project, buildid: ev.buildid, branch: ev.branch, pullRequest: ev.isPullRequest },
    }, { onlyIfReported })

  const untaps = [
    hooks.evalStarted.tap(async (ev) => {
      if (!wanted(ev)) return
      reported.set(ev.buildid, 0)
      await send(ev, 'nix-eval', 'pending', 'Evaluating the flake')
      await send(ev, 'nix-build', 'pending', 'Waiting for the evaluation')
    }),
    hooks.evalFinished.tap(async (ev) => {
      if (!wanted(ev)) return
      const state = statusState(ev.results)
      const extra = [ev.failedToEvaluate ? `${ev.failedToEvaluate} failed to evaluate` : '', ev.warnings ? plural(ev.warnings, 'warning') : ''].filter(Boolean).join(', ')
      const text = state === 'success' ? `Evaluated ${plural(ev.attributes, 'attribute')}${extra ? ` (${extra})` : ''}`
        : ev.results === CANCELLED ? `Cancelled: ${ev.error ?? 'stopped'}` : `Evaluation failed: ${(ev.error ?? '').split('\n')[0]}`
      await send(ev, 'nix-eval', state, text)
      if (state !== 'success') {
        // No matrix will report: the combined status takes the evaluation's result.
        reported.delete(ev.buildid)
        await send(ev, 'nix-build', state, ev.results === CANCELLED ? text : 'The evaluation failed')
      } else {
        await send(ev, 'nix-build', 'pending', `Building ${plural(ev.attributes, 'attribute')}`)
      }
    }),
    hooks.attributeFinished.tap(async (ev) => {
      if (mode === 'none' || !wanted(ev) || ev.state === 'cancelled') return
      const failed = isFailedState(ev.state)
      const context = `nix-build/${ev.attr}`
      const description = attributeDescription(ev, opts.defaultBranchOf(ev.project))
      if (failed) {
        const n = reported.get(ev.buildid) ?? 0
        if (n >= limit) return
        reported.set(ev.buildid, n + 1)
        await send(ev, context, 'failure', description, ev.attrUrl)
      } else {
        await send(ev, context, 'success', description, ev.attrUrl, mode === 'failures')
      }
    }),
    hooks.matrixFinished.tap(async (ev) => {
      if (!wanted(ev)) return
      reported.delete(ev.buildid)
      const parts = Object.entries(ev.counts).filter(([, n]) => n).map(([s, n]) => `${n} ${s === 'skipped' ? 'already built' : s}`)
      await send(ev, 'nix-build', statusState(ev.results), parts.length ? parts.join(', ') : 'Nothing to build')
    }),
    hooks.effects.tap(async (ev) => {
      if (!wanted(ev)) return
      if (ev.phase === 'started') return send(ev, 'nix-effects', 'pending', ev.description ?? `Running ${plural(ev.effects?.length ?? 0, 'effect')}`)
      const r = ev.results ?? (ev.effects ?? []).reduce<Result>((w, e) => worstStatus(w, e.results ?? SUCCESS), SUCCESS)
      return send(ev, 'nix-effects', statusState(r), ev.description ?? `${plural(ev.effects?.length ?? 0, 'effect')} ${statusState(r) === 'success' ? 'done' : 'failed'}`)
    }),
  ]
  return () => { for (const u of untaps) u() }
}
