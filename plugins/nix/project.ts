import { builder, changes, schedulers, steps } from '../../core/index.ts'
import type { BuilderConfig, ChangeFilter, ChangeSourceSpec, PartsGroup, ProjectEntity, ProjectSpec, SchedulerSpec, StepSpec } from '../../core/index.ts'
import { cachedFailureStep, dependencyFailedStep, failedEvalStep, nixBuildStep, registerOutputsStep, type ChildHop } from './child-steps.ts'
import { evalStep, matrixStep, type EvaluationHop } from './eval-step.ts'
import { prMergeStep } from './pr-merge-step.ts'
import { projectSlug, type ResolvedProject } from './options.ts'

const globRe = (g: string): RegExp => new RegExp('^' + g.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$')

/** Builder names of a project. */
export function builderNames(name: string) {
  return {
    eval: `${name}/nix-eval`, build: `${name}/nix-build`, failedEval: `${name}/nix-failed-eval`,
    dependencyFailed: `${name}/nix-dependency-failed`, cachedFailure: `${name}/nix-cached-failure`,
  }
}

/** A configured project as the registry holds it. */
export function registrySpec(p: ResolvedProject): ProjectSpec {
  return { name: p.name, cloneUrl: p.url, defaultBranch: p.defaultBranch, branches: p.branches, pollInterval: p.pollInterval ?? null }
}

/** A registered project the plugin can build (one with a clone URL). */
export function fromRegistry(e: ProjectEntity): ResolvedProject | undefined {
  if (!e.clone_url) return undefined
  return { name: e.name, slug: projectSlug(e.name), url: e.clone_url, defaultBranch: e.default_branch ?? 'main', branches: e.branches, pollInterval: e.poll_interval ?? undefined }
}

/**
 * The first hop, a push: what a project's builders hand on. The evaluation builder runs the
 * evaluation hop (which hands its matrix on), the child builders the child hop (which hands
 * default-branch outputs to the output keeper).
 */
export interface ProjectHops {
  workers: string[]
  evaluation: EvaluationHop
  child: ChildHop
  /** Post-build steps of other plugins (already wrapped in their conditions), in every nix-build child. */
  postBuildSteps: readonly StepSpec[]
  /** The step list of each project's nix-build builder (post-build steps added later go before its last step). */
  buildStepLists: Map<string, StepSpec[]>
  /** Branch globs of the plugin's `branches` rules: pushes to matching branches of every project are built. */
  branchGlobs: readonly string[]
}

/** The builders, schedulers and (optionally) the git poller of one project, as one runtime group. */
export function projectParts(hops: ProjectHops, p: ResolvedProject): PartsGroup {
  const builders: BuilderConfig[] = []
  const scheds: SchedulerSpec[] = []
  const sources: ChangeSourceSpec[] = []
  const api = { addBuilder: (b: BuilderConfig) => builders.push(b), addScheduler: (s: SchedulerSpec) => scheds.push(s), addChangeSource: (c: ChangeSourceSpec) => sources.push(c) }
  const workers = hops.workers
  const b = builderNames(p.name)
  const common = { workers, project: p.name, tags: ['nix'] }
  api.addBuilder(builder({
    ...common, name: b.eval, description: `evaluates ${p.name} and builds its matrix`,
    steps: [steps.git({ repourl: p.url }), prMergeStep(hops.evaluation.runtime, p.url), evalStep(hops.evaluation, p), matrixStep(hops.evaluation)],
  }))
  // Plugins set up after this one add post-build steps into this list (before the GC root step).
  const buildSteps = [nixBuildStep(hops.child), ...hops.postBuildSteps, registerOutputsStep(hops.child)]
  hops.buildStepLists.set(p.name, buildSteps)
  api.addBuilder(builder({ ...common, name: b.build, collapseRequests: false, steps: buildSteps }))
  api.addBuilder(builder({ ...common, name: b.failedEval, collapseRequests: false, steps: [failedEvalStep(hops.child)] }))
  api.addBuilder(builder({ ...common, name: b.dependencyFailed, collapseRequests: false, steps: [dependencyFailedStep(hops.child)] }))
  api.addBuilder(builder({ ...common, name: b.cachedFailure, collapseRequests: false, steps: [cachedFailureStep(hops.child)] }))

  // `fnKey`: what the filters depend on, so a reconfigure restarts them exactly when it changes.
  const globs = [...p.branches, ...hops.branchGlobs]
  const isPush: ChangeFilter = {
    fn: (c) => c.repository === p.url && c.category !== 'pull' && c.branch != null
      && (c.branch === p.defaultBranch || globs.some((g) => globRe(g).test(c.branch!))),
    fnKey: { push: p.url, defaultBranch: p.defaultBranch, branches: globs },
  }
  // One stream per branch, so pushes to two matching branches are both built.
  api.addScheduler(schedulers.anyBranch({ name: `${p.slug}-primary`, builderNames: [b.eval], changeFilter: isPush, treeStableTimer: 1 }))
  api.addScheduler(schedulers.anyBranch({ name: `${p.slug}-prs`, builderNames: [b.eval], changeFilter: { fn: (c) => c.category === 'pull' && c.repository === p.url, fnKey: { pull: p.url } },
    // A pull request may come from anyone: trusted only when a forge plugin vouched for its change.
    trusted: Object.assign((c: { trusted: boolean }) => c.trusted, { fingerprint: 'the change vouches' }) }))
  api.addScheduler(schedulers.triggerable({ name: `${p.slug}-nix-build`, builderNames: [b.build] }))
  api.addScheduler(schedulers.triggerable({ name: `${p.slug}-nix-failed-eval`, builderNames: [b.failedEval] }))
  api.addScheduler(schedulers.triggerable({ name: `${p.slug}-nix-dependency-failed`, builderNames: [b.dependencyFailed] }))
  api.addScheduler(schedulers.triggerable({ name: `${p.slug}-nix-cached-failure`, builderNames: [b.cachedFailure] }))
  api.addScheduler(schedulers.force({
    name: `${p.slug}-force`, builderNames: [b.eval], label: `Evaluate ${p.name}`, buttonName: 'Evaluate',
    codebase: { branch: p.defaultBranch, repository: p.url, project: p.name },
  }))
  if (p.pollInterval) {
    api.addChangeSource(changes.gitPoller({
      name: `nix:${p.slug}`, repourl: p.url, pollInterval: p.pollInterval, project: p.name,
      branches: globs.length ? true : [p.defaultBranch],
    }))
  }
  return { builders, schedulers: scheds, changeSources: sources }
}
