import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAsyncQueue } from './async-queue.ts'
import { attrPathToString, EvalError, isSystemKeyed, outOfMemoryError, type EvalRequest, type NixEvaluator, type NixJob } from './nix-evaluator.ts'
import { nixErrorText, runProcess } from './run-process.ts'
import { createWarningCollector } from './warning-collector.ts'
import { minimalEnvironment } from '../../../core/index.ts'

const CACHE_STATUS = new Set(['local', 'cached', 'notBuilt'])

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')

/**
 * Parses one stdout line of nix-eval-jobs into a job: either `{attr, attrPath, error}` or a
 * success with `drvPath`, `outputs` (values may be null), `system`, … Throws `EvalError`
 * (kind `output`) for a line that is not such a JSON object.
 */
export function parseNixEvalJobsLine(line: string): NixJob {
  let v: unknown
  try { v = JSON.parse(line) } catch {
    throw new EvalError(`nix-eval-jobs printed a line that is not JSON: ${line.slice(0, 200)}`, 'output')
  }
  const bad = (why: string): EvalError => new EvalError(`unexpected nix-eval-jobs output (${why}): ${line.slice(0, 200)}`, 'output')
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('not an object')
  const o = v as Record<string, unknown>
  const attrPath = isStringArray(o.attrPath) ? o.attrPath : typeof o.attr === 'string' ? o.attr.split('.') : undefined
  if (!attrPath) throw bad('no attr')
  const attr = typeof o.attr === 'string' ? o.attr : attrPathToString(attrPath)
  if (typeof o.error === 'string') return { attr, attrPath, error: o.error }
  if (typeof o.drvPath !== 'string') throw bad('no drvPath')
  const job: NixJob = { attr, attrPath, drvPath: o.drvPath }
  if (typeof o.name === 'string') job.name = o.name
  if (typeof o.system === 'string') job.system = o.system
  if (o.outputs !== undefined) {
    if (!o.outputs || typeof o.outputs !== 'object') throw bad('outputs is not an object')
    const outputs: Record<string, string | null> = {}
    for (const [k, p] of Object.entries(o.outputs)) {
      if (p !== null && typeof p !== 'string') throw bad(`output ${k} is not a path`)
      outputs[k] = p
    }
    job.outputs = outputs
  }
  if (typeof o.cacheStatus === 'string') {
    if (!CACHE_STATUS.has(o.cacheStatus)) throw bad(`cacheStatus ${o.cacheStatus}`)
    job.cacheStatus = o.cacheStatus as NixJob['cacheStatus']
  } else if (typeof o.isCached === 'boolean') {
    // nix-eval-jobs before cacheStatus existed
    job.cacheStatus = o.isCached ? 'cached' : 'notBuilt'
  }
  if (isStringArray(o.neededBuilds)) job.neededBuilds = o.neededBuilds
  if (isStringArray(o.neededSubstitutes)) job.neededSubstitutes = o.neededSubstitutes
  if (o.inputDrvs && typeof o.inputDrvs === 'object') job.inputDrvs = o.inputDrvs as Record<string, string[]>
  return job
}

export interface NixEvalJobsOptions {
  /** The nix-eval-jobs binary (default: from PATH). */
  bin?: string
  /** Add `--show-trace`. */
  showTrace?: boolean
}

/** The arguments buildbot-nix passes to nix-eval-jobs (§ evaluation step). */
export function nixEvalJobsArgs(req: EvalRequest, gcRootsDir: string, opts: NixEvalJobsOptions = {}): string[] {
  const args = [
    '--option', 'eval-cache', 'false',
    '--workers', String(req.workers),
    '--max-memory-size', String(req.maxMemoryMiB),
    '--option', 'accept-flake-config', 'true',
    '--gc-roots-dir', gcRootsDir,
    '--force-recurse',
    '--check-cache-status',
  ]
  if (opts.showTrace) args.push('--show-trace')
  args.push('--flake', `${req.flakeDir}#${req.attribute}`)
  if (req.lockFile && req.lockFile !== 'flake.lock') args.push('--reference-lock-file', req.lockFile)
  return args
}

/**
 * Runs nix-eval-jobs and yields each job as its line arrives. `maxMemoryMiB` is nix-eval-jobs'
 * own per-worker limit (a worker above it is restarted), so no process limit is added here.
 * For system-keyed attributes, jobs of systems outside `req.systems` are left out.
 */
export function createNixEvalJobsEvaluator(opts: NixEvalJobsOptions = {}): NixEvaluator {
  return {
    name: 'nix-eval-jobs',
    async *evaluate(req: EvalRequest): AsyncIterable<NixJob> {
      if (req.signal?.aborted) throw new EvalError('evaluation was cancelled', 'aborted')
      const ownRoots = req.gcRootsDir ? undefined : await mkdtemp(join(tmpdir(), 'nix-eval-jobs-roots-'))
      const ctl = new AbortController()
      let limit: EvalError | undefined
      const stop = (e: EvalError): void => { limit ??= e; ctl.abort() }
      const timer = setTimeout(() => stop(new EvalError(`evaluation timed out after ${req.timeoutSec} s`, 'timeout')), req.timeoutSec * 1000)
      const onAbort = (): void => stop(new EvalError('evaluation was cancelled', 'aborted'))
      req.signal?.addEventListener('abort', onAbort, { once: true })
      const warnings = createWarningCollector(req.onWarning)
      const keep = isSystemKeyed(req.attribute) && req.systems ? new Set(req.systems) : undefined
      const out = createAsyncQueue<NixJob>()
      const proc = runProcess(opts.bin ?? 'nix-eval-jobs', nixEvalJobsArgs(req, req.gcRootsDir ?? ownRoots!, opts), {
        cwd: req.flakeDir,
        // It evaluates the project's code: the build's minimal environment, not the master's.
        env: { ...minimalEnvironment(), CLICOLOR_FORCE: '1' },
        signal: ctl.signal,
        collectStdout: false,
        onStdoutLine: (line) => {
          if (!line.trim()) return
          try {
            const job = parseNixEvalJobsLine(line)
            if (!keep || keep.has(job.attrPath[0]!)) out.push(job)
          } catch (e) { stop(e as EvalError) }
        },
        onStderrLine: (line) => { warnings.push(line); req.onLog?.(line) },
      }).catch((e: Error) => {
        throw new EvalError(`cannot run nix-eval-jobs: ${e.message}`, 'failed')
      }).then((r) => {
        warnings.flush()
        if (limit) throw limit
        if (r.code !== 0 && r.outOfMemory) throw outOfMemoryError(req.maxMemoryMiB, r.stderrTail)
        if (r.code !== 0) {
          throw new EvalError(`nix-eval-jobs failed (exit ${r.code ?? r.signal}):\n${nixErrorText(r.stderrTail)}`, 'failed', r.stderrTail)
        }
      })
      proc.then(() => out.close(), (e: unknown) => out.fail(e))
      try {
        yield* out
      } finally {
        clearTimeout(timer)
        req.signal?.removeEventListener('abort', onAbort)
        ctl.abort()
        await proc.catch(() => undefined)
        if (ownRoots) await rm(ownRoots, { recursive: true, force: true })
      }
    },
  }
}
