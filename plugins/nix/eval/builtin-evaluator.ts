import { createAsyncQueue, createSemaphore, type AsyncQueue, type Semaphore } from './async-queue.ts'
import { closureStatus } from './drv-closure.ts'
import { COMMON_EVAL_FLAGS, resolveFlakeRef, type FlakeRef } from './flake-ref.ts'
import { attrNamesAtExpr, listSystemKeyedExpr, shardExpr, walkAtExpr, walkExpr } from './nix-expr.ts'
import { attrPathToString, EvalError, isSystemKeyed, outOfMemoryError, type EvalRequest, type NixEvaluator, type NixJob } from './nix-evaluator.ts'
import { probeNixVersion, type NixVersion } from './nix-version.ts'
import { nixErrorText, runProcess } from './run-process.ts'
import { createWarningCollector, type WarningCollector } from './warning-collector.ts'

export interface BuiltinEvaluatorOptions {
  /** Probed with `nix --version` on first use when not given. */
  nixVersion?: NixVersion
  /** How deep non-system-keyed attributes are entered (default 8). */
  maxDepth?: number
  /** Upper bound of attributes per `nix eval` process (default 250; a shard out of memory is split). */
  maxShardSize?: number
}

interface Ctx {
  req: EvalRequest
  ref: FlakeRef
  signal: AbortSignal
  limit: () => EvalError | undefined
  sem: Semaphore
  warnings: WarningCollector
  out: AsyncQueue<NixJob[]>
}

interface NixEvalResult { ok: boolean; value: unknown; error: string }

type Tree = 'd' | 'e' | null | { [name: string]: Tree }

// A single argv string may not exceed 128 KiB (MAX_ARG_STRLEN); stay well below.
const MAX_EXPR_CHARS = 96 * 1024

async function nixEval(ctx: Ctx, apply: string): Promise<NixEvalResult> {
  const { req, ref } = ctx
  const r = await runProcess('nix', ['eval', '--json', ...COMMON_EVAL_FLAGS, ...ref.args, `${ref.ref}#${req.attribute}`, '--apply', apply], {
    cwd: req.flakeDir,
    maxMemoryMiB: req.maxMemoryMiB,
    signal: ctx.signal,
    onStderrLine: (line) => { ctx.warnings.push(line); req.onLog?.(line) },
  })
  ctx.warnings.flush()
  const limit = ctx.limit()
  if (r.aborted && limit) throw limit
  if (r.outOfMemory) throw outOfMemoryError(req.maxMemoryMiB, r.stderrTail)
  if (r.code !== 0) return { ok: false, value: undefined, error: nixErrorText(r.stderrTail) || `nix eval exited with ${r.code ?? r.signal}` }
  try {
    return { ok: true, value: JSON.parse(r.stdout), error: '' }
  } catch {
    throw new EvalError(`nix eval printed output that is not JSON: ${r.stdout.slice(0, 200)}`, 'output')
  }
}

const errorJob = (path: string[], error: string): NixJob => ({ attr: attrPathToString(path), attrPath: path, error })

function flatten(tree: Tree, prefix: string[], leaves: string[][], errors: string[][]): void {
  if (tree === 'd') leaves.push(prefix)
  else if (tree === 'e') errors.push(prefix)
  else if (tree && typeof tree === 'object') for (const [n, t] of Object.entries(tree)) flatten(t, [...prefix, n], leaves, errors)
}

/** Lists the attribute paths to evaluate; paths whose listing failed are reported as error jobs. */
async function listJobs(ctx: Ctx, maxDepth: number): Promise<{ leaves: string[][]; errors: string[][] }> {
  const { req } = ctx
  const leaves: string[][] = []
  const errors: string[][] = []
  const systemKeyed = isSystemKeyed(req.attribute)
  const first = await ctx.sem.run(() => nixEval(ctx, systemKeyed ? listSystemKeyedExpr(req.systems) : walkExpr(maxDepth)))
  if (first.ok && first.value !== 'e') {
    if (systemKeyed) {
      for (const [system, names] of Object.entries(first.value as Record<string, string[] | null>)) {
        if (names === null) errors.push([system])
        else for (const n of names) leaves.push([system, n])
      }
    } else {
      flatten(first.value as Tree, [], leaves, errors)
    }
    return { leaves, errors }
  }
  // An error tryEval cannot catch (abort, missing attribute) somewhere below: list the first
  // level lazily and take each child on its own, so only the broken child fails.
  const top = await ctx.sem.run(() => nixEval(ctx, attrNamesAtExpr([])))
  if (!top.ok) throw new EvalError(`evaluating ${req.attribute} failed:\n${top.error}`, 'failed')
  let names = top.value as string[]
  if (systemKeyed && req.systems) names = names.filter((n) => req.systems!.includes(n))
  await Promise.all(names.map(async (name) => {
    const r = await ctx.sem.run(() => nixEval(ctx, systemKeyed ? attrNamesAtExpr([name]) : walkAtExpr([name], maxDepth - 1)))
    if (!r.ok) { ctx.out.push([errorJob([name], r.error)]); return }
    if (systemKeyed) for (const n of r.value as string[]) leaves.push([name, n])
    else flatten(r.value as Tree, [name], leaves, errors)
  }))
  return { leaves, errors }
}

interface ShardEntry { drvPath?: string; name?: string; system?: string; outputs?: Record<string, string>; failed?: true; notDrv?: true }

/** Evaluates one attribute without tryEval, so nix's stderr carries the error message. */
async function soloError(ctx: Ctx, path: string[]): Promise<NixJob[]> {
  const r = await ctx.sem.run(() => nixEval(ctx, shardExpr([path], false)))
  if (!r.ok) return [errorJob(path, r.error)]
  return finish(ctx, [path], r.value as ShardEntry[])
}

async function finish(ctx: Ctx, paths: string[][], entries: ShardEntry[]): Promise<NixJob[]> {
  const jobs: NixJob[] = []
  const pending: Promise<NixJob[]>[] = []
  const ok: { path: string[]; e: ShardEntry }[] = []
  entries.forEach((e, i) => {
    const path = paths[i]!
    if (e.failed) pending.push(soloError(ctx, path))
    else if (e.notDrv) jobs.push(errorJob(path, `${ctx.req.attribute}.${attrPathToString(path)} is not a derivation`))
    else ok.push({ path, e })
  })
  if (ok.length) {
    let status
    try {
      status = await closureStatus(ok.map((o) => o.e.drvPath!), ctx.signal)
    } catch (err) {
      const limit = ctx.limit()
      if (limit) throw limit
      throw new EvalError(`reading the derivations failed: ${(err as Error).message}`, 'failed')
    }
    for (const { path, e } of ok) {
      const s = status.get(e.drvPath!)!
      jobs.push({
        attr: attrPathToString(path), attrPath: path, name: e.name, system: e.system, drvPath: e.drvPath,
        outputs: e.outputs, cacheStatus: s.local ? 'local' : 'notBuilt',
        neededBuilds: s.neededBuilds, neededSubstitutes: [], inputDrvs: s.inputDrvs,
      })
    }
  }
  for (const more of await Promise.all(pending)) jobs.push(...more)
  return jobs
}

/**
 * Evaluates a shard in one process. A shard that dies on an error tryEval cannot catch, or runs
 * out of memory, is split in halves until the failing attribute stands alone and its stderr
 * names the error (or the memory limit).
 */
async function evalShard(ctx: Ctx, paths: string[][]): Promise<void> {
  let r: NixEvalResult
  try {
    r = await ctx.sem.run(() => nixEval(ctx, shardExpr(paths, true)))
  } catch (err) {
    // Out of memory with several attributes: each half gets a process of its own.
    if (!(err instanceof EvalError) || err.kind !== 'memory' || paths.length === 1) throw err
    r = { ok: false, value: undefined, error: err.message }
  }
  if (r.ok) { ctx.out.push(await finish(ctx, paths, r.value as ShardEntry[])); return }
  if (paths.length === 1) { ctx.out.push([errorJob(paths[0]!, r.error)]); return }
  const mid = Math.ceil(paths.length / 2)
  await Promise.all([evalShard(ctx, paths.slice(0, mid)), evalShard(ctx, paths.slice(mid))])
}

/**
 * Splits paths into shards that grow: the first is small so the first jobs arrive early, each
 * next one twice the size of the one before (up to `maxShardSize`), so that few processes (each
 * loads the flake again) evaluate the rest.
 */
export function makeShards(paths: string[][], workers: number, maxShardSize = 250): string[][][] {
  let size = Math.max(1, Math.min(maxShardSize, Math.ceil(paths.length / (Math.max(1, workers) * 16))))
  const shards: string[][][] = []
  let cur: string[][] = []
  let chars = 0
  for (const p of paths) {
    const len = p.reduce((n, s) => n + s.length + 4, 4)
    if (cur.length && (cur.length >= size || chars + len > MAX_EXPR_CHARS)) {
      shards.push(cur)
      cur = []
      chars = 0
      size = Math.min(maxShardSize, size * 2)
    }
    cur.push(p)
    chars += len
  }
  if (cur.length) shards.push(cur)
  return shards
}

/**
 * The evaluator on plain `nix eval --json --apply`, for machines without nix-eval-jobs. It lists
 * the attributes, evaluates them in shards over `workers` processes and yields each shard's
 * jobs when it is done. `neededSubstitutes` is always empty and `cacheStatus` never `cached`:
 * substituters are not queried.
 */
export function createBuiltinEvaluator(opts: BuiltinEvaluatorOptions = {}): NixEvaluator {
  return {
    name: 'nix-eval',
    async *evaluate(req: EvalRequest): AsyncIterable<NixJob> {
      if (req.signal?.aborted) throw new EvalError('evaluation was cancelled', 'aborted')
      const version = opts.nixVersion ?? (await probeNixVersion())
      const ctl = new AbortController()
      let limit: EvalError | undefined
      const stop = (e: EvalError): void => { limit ??= e; ctl.abort() }
      const timer = setTimeout(() => stop(new EvalError(`evaluation timed out after ${req.timeoutSec} s`, 'timeout')), req.timeoutSec * 1000)
      const onAbort = (): void => stop(new EvalError('evaluation was cancelled', 'aborted'))
      req.signal?.addEventListener('abort', onAbort, { once: true })
      const out = createAsyncQueue<NixJob[]>()
      const work = (async () => {
        const ref = await resolveFlakeRef(req.flakeDir, req.lockFile, version)
        const ctx: Ctx = {
          req, ref, signal: ctl.signal, limit: () => limit, out,
          sem: createSemaphore(req.workers), warnings: createWarningCollector(req.onWarning),
        }
        const { leaves, errors } = await listJobs(ctx, opts.maxDepth ?? 8)
        await Promise.all([
          ...makeShards(leaves, req.workers, opts.maxShardSize).map((s) => evalShard(ctx, s)),
          ...errors.map(async (p) => ctx.out.push(await soloError(ctx, p))),
        ])
      })()
      work.then(() => out.close(), (e: unknown) => out.fail(limit ?? e))
      try {
        for await (const batch of out) yield* batch
      } finally {
        clearTimeout(timer)
        req.signal?.removeEventListener('abort', onAbort)
        ctl.abort()
        await work.catch(() => undefined)
      }
    },
  }
}
