import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { FAILURE, SUCCESS, WARNINGS, steps, type StepContext, type StepSpec } from '../../core/index.ts'
import { buildInstallable } from './eval/nix-version.ts'
import type { RuntimeSlot } from './nix-runtime.ts'
import type { KeepPolicy, OutputKeeper } from './output-keeper.ts'
import type { ResolvedProject } from './options.ts'
import type { StoredJob } from './jobs-store.ts'
import { outputRoots } from './store/gc-roots.ts'

/**
 * What a child build needs: the started runtime (jobs, nix, shared processes), the build limits,
 * the projects (for the default branch) and the output keeper, its next hop.
 */
export interface ChildHop {
  runtime: RuntimeSlot
  maxSilentTime: number
  buildTimeout: number
  projects: ReadonlyMap<string, ResolvedProject>
  outputs: OutputKeeper
}

const str = (ctx: StepContext, name: string): string => {
  const v = ctx.getProperty(name)
  return v == null ? '' : String(v)
}

/** Changes the job row of the attribute this child builds (when there is one). */
async function updateJob(hop: ChildHop, ctx: StepContext, patch: Partial<StoredJob>): Promise<void> {
  const jobid = Number(ctx.getProperty('nix_jobid'))
  const jobs = hop.runtime.peek()?.jobs
  if (jobid && jobs) await jobs.update(jobid, patch)
}

/** Records on the job row which child build handles it (and that it is building, for nix-build). */
function markChild(hop: ChildHop, ctx: StepContext, building: boolean): Promise<void> {
  return updateJob(hop, ctx, {
    child_buildid: ctx.build.buildid, child_builderid: ctx.build.builderid, child_number: ctx.build.number,
    started_at: Date.now(), ...(building ? { state: 'building' as const } : {}),
  })
}

/** Records on the job row that its build failed (the matrix records the build's result later). */
function markFailed(hop: ChildHop, ctx: StepContext, reason: string): Promise<void> {
  return updateJob(hop, ctx, { state: 'failed', results: FAILURE, reason, complete_at: Date.now() })
}

/** The `nix build` of one attribute; its output streams into the step's log. */
export function nixBuildStep(hop: ChildHop): StepSpec {
  return steps.custom({
    name: 'nix build', type: 'nix-build', haltOnFailure: true,
    async run(ctx) {
      await markChild(hop, ctx, true)
      const runtime = hop.runtime.peek()
      const nix = runtime?.nix
      if (!runtime || !nix?.ok) {
        const log = await ctx.addLog('nix_error')
        log.write(`${nix && !nix.ok ? nix.message : 'the nix plugin is not started'}\n`)
        return FAILURE
      }
      const attr = str(ctx, 'attr')
      const drv = str(ctx, 'drv_path')
      const o = hop
      const command = ['nix', 'build', '-L', '--option', 'keep-going', 'true', '--max-silent-time', String(o.maxSilentTime),
        '--out-link', `result-${attr}`, buildInstallable(drv, nix.version)]
      await ctx.setStateString(`building ${attr}`)
      const out = str(ctx, 'out_path')
      // A local worker shares the master's store: batch with the other children building now.
      if (runtime.batcher && out && ctx.worker.info.version === 'local') {
        const log = await ctx.addLog('stdio', 's')
        const installable = buildInstallable(drv, nix.version)
        const onStart = (n: number): void => log.write(`nix build ${installable} (one shared nix process builds ${n} requested derivation${n === 1 ? '' : 's'})\n`, 'h')
        const outputs = outputsOf(ctx)
        const r = await runtime.batcher.build({ installable, drvPath: drv, outPaths: Object.values(outputs), outputNames: Object.keys(outputs), onStart, onLog: (t) => log.write(t, 'o'), signal: ctx.signal })
        if (ctx.signal.aborted) return FAILURE
        if (r.timedOutAfter) {
          await markFailed(hop, ctx, timedOut(attr, r.timedOutAfter))
          await ctx.setStateString(timedOut(attr, r.timedOutAfter))
          return FAILURE
        }
        // A failure shows on the matrix at once, before the build's own teardown is recorded.
        if (!r.ok) await markFailed(hop, ctx, r.failure ?? 'nix build failed')
        log.write(r.ok ? `${out} is built\n` : r.failure ? `building ${drv} failed: ${r.failure}\n` : `building ${drv} failed (nix exit code ${r.rc})\n`, 'h')
        await ctx.setStateString(r.ok ? `built ${attr}` : `${attr} failed`)
        return r.ok ? SUCCESS : FAILURE
      }
      // nix's own --max-silent-time ends a silent build first; the step's silence limit is a backstop.
      const started = Date.now()
      const res = await ctx.runCommand({ name: 'shell', args: { command, workdir: 'build', timeout: o.maxSilentTime + 60, maxTime: o.buildTimeout, want_stdout: true, want_stderr: true } })
      if (res.rc !== 0 && res.failureReason === 'timeout' && Date.now() - started >= o.buildTimeout * 1000) {
        await markFailed(hop, ctx, timedOut(attr, o.buildTimeout))
        await ctx.setStateString(timedOut(attr, o.buildTimeout))
        return FAILURE
      }
      if (res.rc !== 0 && !ctx.signal.aborted) await markFailed(hop, ctx, `nix build exited with ${res.rc}${res.failureReason ? ` (${res.failureReason})` : ''}`)
      await ctx.setStateString(res.rc === 0 ? `built ${attr}` : `${attr} failed (exit ${res.rc}${res.failureReason ? `, ${res.failureReason}` : ''})`)
      return res.rc === 0 ? SUCCESS : FAILURE
    },
  })
}

const timedOut = (attr: string, seconds: number) => `${attr} timed out after ${seconds} s (buildTimeout)`

/** The outputs of the attribute a child builds (name → store path). */
function outputsOf(ctx: StepContext): Record<string, string> {
  const o = ctx.getProperty('outputs')
  if (o && typeof o === 'object' && Object.keys(o).length) return o as Record<string, string>
  const out = str(ctx, 'out_path')
  return out ? { out } : {}
}

/** Keeps the outputs alive and records them in outputsPath as the evaluation's `nix_keep` says (default branch, branch rules); removes the out-links. */
export function registerOutputsStep(hop: ChildHop): StepSpec {
  return steps.custom({
    name: 'register gc root', type: 'nix-gcroot', hideStepIf: (r) => r === SUCCESS,
    async run(ctx) {
      const attr = str(ctx, 'attr')
      const out = str(ctx, 'out_path')
      const project = hop.projects.get(str(ctx, 'project'))
      const outputs = outputsOf(ctx)
      // `nix build --out-link result-<attr>` makes `result-<attr>-<output>` for the other outputs.
      const link = join(String(ctx.getProperty('builddir') ?? ctx.worker.builderDir(ctx.build.builderName)), 'build', `result-${attr}`)
      for (const r of outputRoots(outputs)) await unlink(r.output ? `${link}-${r.output}` : link).catch(() => undefined)
      const keep = ctx.getProperty('nix_keep') as KeepPolicy | null | undefined
      if (!project || !out || !keep) { await ctx.setStateString(ctx.getProperty('nix_default_branch') === true ? 'nothing to keep' : 'not a branch whose outputs are kept'); return SUCCESS }
      let how: string
      try {
        how = await hop.outputs.keep(project, attr, outputs, keep)
      } catch (err) {
        // The build itself succeeded: keep that result, say what to fix.
        const log = await ctx.addLog('gcroot_error')
        log.write(`${(err as Error).message}\n`)
        await ctx.setStateString('registering the GC root failed')
        return WARNINGS
      }
      await ctx.setStateString(keep.gcRoots ? `gc root ${how}` : 'out path written to outputsPath')
      return SUCCESS
    },
  })
}

/** An attribute that failed to evaluate: its error in log `nix_error`. */
export function failedEvalStep(hop: ChildHop): StepSpec {
  return steps.custom({
    name: 'nix eval error', type: 'nix-failed-eval',
    async run(ctx) {
      await markChild(hop, ctx, false)
      const log = await ctx.addLog('nix_error')
      log.write(`${str(ctx, 'attr')} failed to evaluate:\n${str(ctx, 'error')}\n`)
      await ctx.setStateString(`${str(ctx, 'attr')} failed to evaluate`)
      return FAILURE
    },
  })
}

/** An attribute not built because something it depends on failed. */
export function dependencyFailedStep(hop: ChildHop): StepSpec {
  return steps.custom({
    name: 'dependency failed', type: 'nix-dependency-failed',
    async run(ctx) {
      await markChild(hop, ctx, false)
      const dep = str(ctx, 'dependency_attr')
      const log = await ctx.addLog('nix_error')
      log.write(`${str(ctx, 'attr')} was not built because it depends on a failed build of ${dep}\n`)
      await ctx.setStateString(`dependency ${dep} failed`)
      return FAILURE
    },
  })
}

/** A derivation that failed before (failed-build cache): links the first failure. */
export function cachedFailureStep(hop: ChildHop): StepSpec {
  return steps.custom({
    name: 'cached failure', type: 'nix-cached-failure',
    async run(ctx) {
      await markChild(hop, ctx, false)
      const url = str(ctx, 'first_failure_url')
      const log = await ctx.addLog('cached_failure_info', 'h')
      const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)
      log.write(`<p>${esc(str(ctx, 'drv_path'))} failed to build before; it is not built again.</p><p>First failure: <a href="${esc(url)}">${esc(url)}</a></p>\n`)
      if (url) await ctx.addURL('first failure', url)
      await ctx.setStateString('failed before (cached)')
      return FAILURE
    },
  })
}

