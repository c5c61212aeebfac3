import { builder, changes, schedulers, steps, type PluginApi } from '../../core/index.ts'
import type { ChangeFilter } from '../../core/index.ts'
import { cachedFailureStep, dependencyFailedStep, failedEvalStep, nixBuildStep, registerOutputsStep } from './child-steps.ts'
import { evalStep, matrixStep } from './eval-step.ts'
import { prMergeStep } from './pr-merge-step.ts'
import type { ResolvedProject } from './options.ts'
import type { NixPluginState } from './plugin-state.ts'

const globRe = (g: string): RegExp => new RegExp('^' + g.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$')

/** Builder names of a project. */
export function builderNames(name: string) {
  return {
    eval: `${name}/nix-eval`, build: `${name}/nix-build`, failedEval: `${name}/nix-failed-eval`,
    dependencyFailed: `${name}/nix-dependency-failed`, cachedFailure: `${name}/nix-cached-failure`,
  }
}

/** The builders, schedulers and (optionally) the git poller of one project. */
export function addProject(api: PluginApi, state: NixPluginState, p: ResolvedProject): void {
  const workers = state.opts.workers
  const b = builderNames(p.name)
  const common = { workers, project: p.name, tags: ['nix'] }
  api.addBuilder(builder({
    ...common, name: b.eval, description: `evaluates ${p.name} and builds its matrix`,
    steps: [steps.git({ repourl: p.url }), prMergeStep(state, p.url), evalStep(state, p), matrixStep(state)],
  }))
  // Plugins set up after this one add post-build steps into this list (before the GC root step).
  const buildSteps = [nixBuildStep(state), ...state.postBuildSteps, registerOutputsStep(state)]
  state.buildStepLists.push(buildSteps)
  api.addBuilder(builder({ ...common, name: b.build, collapseRequests: false, steps: buildSteps }))
  api.addBuilder(builder({ ...common, name: b.failedEval, collapseRequests: false, steps: [failedEvalStep(state)] }))
  api.addBuilder(builder({ ...common, name: b.dependencyFailed, collapseRequests: false, steps: [dependencyFailedStep(state)] }))
  api.addBuilder(builder({ ...common, name: b.cachedFailure, collapseRequests: false, steps: [cachedFailureStep(state)] }))

  const isPush: ChangeFilter = {
    fn: (c) => c.repository === p.url && c.category !== 'pull' && c.branch != null
      && (c.branch === p.defaultBranch || p.branches.some((g) => globRe(g).test(c.branch!))),
  }
  // One stream per branch, so pushes to two matching branches are both built.
  api.addScheduler(schedulers.anyBranch({ name: `${p.slug}-primary`, builderNames: [b.eval], changeFilter: isPush, treeStableTimer: 1 }))
  api.addScheduler(schedulers.anyBranch({ name: `${p.slug}-prs`, builderNames: [b.eval], changeFilter: { fn: (c) => c.category === 'pull' && c.repository === p.url },
    // A pull request may come from anyone: trusted only when a forge plugin vouched for its change.
    trusted: (c) => c.trusted }))
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
      branches: p.branches.length ? true : [p.defaultBranch],
    }))
  }
}
