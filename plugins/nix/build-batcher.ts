import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cpus } from 'node:os'
import { validPaths } from './store/store-validity.ts'
import { parseInternalJsonLine } from './internal-json.ts'
import { minimalEnvironment } from '../../core/index.ts'

export interface BatchBuildRequest {
  /** The installable (`<drv>` or `<drv>^*`). */
  installable: string
  drvPath: string
  /** Outputs that must be valid afterwards for the build to count as a success. */
  outPaths: string[]
  /** The names of those outputs (default `out`). */
  outputNames?: string[]
  /** Receives this derivation's log lines (with newline) as nix prints them. */
  onLog(text: string): void
  /** Called when the shared process starts, with the number of derivations it builds. */
  onStart?(derivations: number): void
  /** The child was stopped: it stops waiting; a process no child waits for any more is killed. */
  signal?: AbortSignal
}

export interface BatchBuildResult {
  ok: boolean
  rc: number | null
  /** Why a failed derivation failed, when nix said so before the shared process ended. */
  failure?: string
  /** The shared process ran longer than `buildTimeout` and was killed (seconds). */
  timedOutAfter?: number
}

export interface BuildBatcherOptions {
  maxSilentTime: number
  /** Seconds without any output of the shared process before it is killed. */
  timeout: number
  /** Seconds a shared process may run in all (its derivations were requested within `delayMs`): then it is killed and what it had not built fails as timed out. */
  buildTimeout?: number
  /** How long requests are collected before a process starts (default 5 ms; longer, up to 0.5 s, while others run). */
  delayMs?: number
  /** Derivations per process at most (default 500). */
  maxBatch?: number
  nixBin?: string
  /** Parallel builds per shared process at most (default: CPU count). */
  maxJobs?: number
  /** Spacing of the output validity checks of finished derivations (default 250 ms; failures do not wait for it). */
  checkDelayMs?: number
  /** The derivations of the store that depend on `drv` (default: `nix-store -q --referrers-closure`). */
  dependentsOf?(drv: string): Promise<Set<string>>
  nixInstantiateBin?: string
  /** Which store paths are valid (default: `nix-store --check-validity`, a process per question). */
  validPaths?(paths: string[]): Promise<Set<string>>
}

/** The longest a request waits for others while shared processes are running. */
const MAX_BUSY_WINDOW_MS = 500

/** Lines of a derivation's own log kept to show in the logs of the derivations it stops. */
const FAILURE_TAIL_LINES = 25

/** Every derivation in the store that depends on `drv`, `drv` included. */
export function referrersClosure(drv: string, nixStore = 'nix-store'): Promise<Set<string>> {
  return new Promise((resolve) => {
    execFile(nixStore, ['--query', '--referrers-closure', drv], { maxBuffer: 64 << 20 }, (err, stdout) =>
      resolve(new Set(err ? [drv] : String(stdout).split('\n').filter((l) => l.endsWith('.drv')))))
  })
}

interface Waiting { req: BatchBuildRequest; resolve(r: BatchBuildResult): void }

/**
 * A derivation that needs the outputs of every requested one, so that nix builds them as its
 * inputs: nix prints an input's failure the moment it happens, while a failure of a derivation
 * asked for directly is printed only when the process ends. It is never built (its builder
 * fails, and the process is ended once every request is answered). Undefined when it cannot be
 * instantiated: the requests are then built directly.
 */
export function aggregateDrv(inputs: { drvPath: string; outputNames: string[] }[], nixInstantiate = 'nix-instantiate'): Promise<string | undefined> {
  const str = (x: string): string => JSON.stringify(x)
  const deps = inputs.map((i) => `(builtins.appendContext "" { ${str(i.drvPath)} = { outputs = [ ${i.outputNames.map(str).join(' ')} ]; }; })`).join(' ')
  const expr = `derivation { name = "buildbot-nix-batch"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "exit 1" ]; preferLocalBuild = true; allowSubstitutes = false; inputs = [ ${deps} ]; }`
  return new Promise((resolve) => {
    execFile(nixInstantiate, ['--expr', expr], { maxBuffer: 1 << 20, env: minimalEnvironment() }, (err, stdout) => {
      const drv = String(stdout).trim()
      resolve(!err && /^\/nix\/store\/[0-9a-z]{32}-buildbot-nix-batch\.drv$/.test(drv) ? drv : undefined)
    })
  })
}

const DEPENDENCIES_FAILED = /dependencies of derivation '[^']+' failed to build/
const DRV = /\/nix\/store\/[0-9a-z]{32}-[^\s'"]+\.drv/g

/**
 * Lets concurrent nix-build children on the master's machine share `nix build` processes: the
 * derivations requested within a few milliseconds are built by one
 * `nix build --keep-going --log-format internal-json`, whose log is split per derivation
 * (build-log lines belong to the `building '<drv>'` activity), and each derivation's result is
 * whether its outputs are valid afterwards. Starting one process per attribute costs more than
 * building a trivial derivation.
 */
export function createBuildBatcher(opts: BuildBatcherOptions) {
  let queue: Waiting[] = []
  let timer: NodeJS.Timeout | undefined
  const delay = opts.delayMs ?? 5
  const max = opts.maxBatch ?? 500
  const valid = opts.validPaths ?? ((paths: string[]) => validPaths(paths))
  const maxJobs = opts.maxJobs ?? cpus().length
  const running = new Set<Promise<void>>()

  async function runBatch(all: Waiting[]): Promise<void> {
    const batch = all.filter((w) => !w.req.signal?.aborted)
    if (!batch.length) return
    const byDrv = new Map<string, Waiting[]>()
    for (const w of batch) {
      const list = byDrv.get(w.req.drvPath)
      if (list) list.push(w)
      else byDrv.set(w.req.drvPath, [w])
    }
    // One derivation alone needs no aggregate: its failure ends the process, which prints it then.
    const aggregate = byDrv.size > 1
      ? await aggregateDrv([...byDrv].map(([drvPath, ws]) => ({ drvPath, outputNames: ws[0]!.req.outputNames ?? ['out'] })), opts.nixInstantiateBin)
      : undefined
    // `<drv>^*` on nix that needs it, like the requests' own installables.
    const installables = aggregate ? [aggregate + batch[0]!.req.installable.slice(batch[0]!.req.drvPath.length)] : [...new Set(batch.map((w) => w.req.installable))]
    const owner = new Map<string, string>()
    const unowned: string[] = []
    const errors: string[] = []
    const gotError = new Set<string>()
    // The last lines of each derivation built (requested or not): a failure shows them in the
    // logs of the requested derivations it stops.
    const tails = new Map<string, string[]>()
    const emit = (drv: string | undefined, text: string): void => {
      if (drv) {
        let t = tails.get(drv)
        if (!t) tails.set(drv, t = [])
        t.push(text)
        if (t.length > FAILURE_TAIL_LINES) t.shift()
      }
      const list = drv ? byDrv.get(drv) : undefined
      if (list) for (const w of list) { if (!settled.has(w)) w.req.onLog(text) }
      else { unowned.push(text); if (unowned.length > 200) unowned.shift() }
    }
    // A derivation nix reported as failed: its children are answered at once, and so are the
    // requested derivations that depend on it (nix will not build them; it says so only at exit).
    const failedDrvs = new Set<string>()
    let failing: Promise<void> = Promise.resolve()
    const onFailed = (drv: string, text: string): void => {
      if (failedDrvs.has(drv)) return
      failedDrvs.add(drv)
      const own = byDrv.get(drv) ?? []
      // A requested derivation stopped by a failed input: answered after the dependents of the
      // failures before it, which say which input failed and show its last lines.
      if (DEPENDENCIES_FAILED.test(text)) {
        failing = failing.then(() => { for (const w of own) settle(w, { ok: false, rc: null, failure: text }) })
      } else {
        for (const w of own) settle(w, { ok: false, rc: null, failure: text })
      }
      const open = batch.filter((w) => !settled.has(w) && w.req.drvPath !== drv)
      if (!open.length) return
      failing = failing.then(async () => {
        const dependents = await (opts.dependentsOf ?? referrersClosure)(drv)
        const tail = (tails.get(drv) ?? []).join('')
        for (const w of open) {
          if (settled.has(w) || !dependents.has(w.req.drvPath)) continue
          w.req.onLog(`${w.req.drvPath} cannot be built: it depends on ${drv}, which failed:\n${tail.includes(text) ? tail : `${tail}${text}\n`}`)
          settle(w, { ok: false, rc: null, failure: `depends on ${drv}, which failed` })
        }
      }).catch(() => undefined)
    }
    // Requested derivations whose build nix started and that are not answered yet. nix 2.8 says
    // which build finished only when the process ends; its progress counter (done builds) says
    // that one did at once: the started ones whose outputs are then valid are answered.
    const started = new Set<string>()
    let buildsActivity: string | undefined
    let doneBuilds = 0
    let checkTimer: NodeJS.Timeout | undefined
    // At most one check runs at a time, and checks are spaced out (a store query each).
    let checking = false
    let again = false
    const scheduleCheck = (): void => {
      if (exited) return
      if (checking) { again = true; return }
      checkTimer ??= setTimeout(() => {
        checkTimer = undefined
        checking = true
        early = checkFinished().finally(() => {
          checking = false
          if (again) { again = false; scheduleCheck() }
        })
      }, opts.checkDelayMs ?? 250)
    }
    const checkFinished = async (): Promise<void> => {
      // Dependents of a failure are answered with the failing lines first.
      await failing
      // Only outputs already on disk can be valid: the others are still building.
      const ws = [...started].flatMap((d) => byDrv.get(d) ?? [])
        .filter((w) => !settled.has(w) && w.req.outPaths.length > 0 && w.req.outPaths.every((p) => existsSync(p)))
      if (!ws.length) return
      const built = await valid(ws.flatMap((w) => w.req.outPaths)).catch(() => new Set<string>())
      for (const w of ws) {
        if (!w.req.outPaths.every((p) => built.has(p))) continue
        started.delete(w.req.drvPath)
        settle(w, { ok: true, rc: 0 })
      }
    }
    const onLine = (line: string): void => {
      const l = parseInternalJsonLine(line)
      switch (l.kind) {
        case 'text': emit(undefined, l.text + '\n'); return
        case 'buildsStart': buildsActivity = l.id; return
        case 'progress':
          if (l.id === buildsActivity && l.done > doneBuilds) { doneBuilds = l.done; if (started.size) scheduleCheck() }
          return
        case 'buildStart':
          owner.set(l.id, l.drv)
          if (byDrv.has(l.drv)) started.add(l.drv)
          emit(l.drv, `${l.text}\n`)
          return
        case 'buildLine': emit(owner.get(l.id), l.text + '\n'); return
        case 'message': {
          // nix prints a build failure twice (when it happens and in the final summary); what it
          // says of the aggregate (its inputs failed, or its builder ran) is not news.
          if (errors.includes(l.text) || (aggregate && l.text.includes(aggregate))) return
          errors.push(l.text)
          const all = [...new Set(l.text.match(DRV) ?? [])]
          const named = all.filter((d) => byDrv.has(d))
          for (const d of named) gotError.add(d)
          if (named.length) for (const d of named) emit(d, l.text + '\n')
          else emit(undefined, l.text + '\n')
          // An error naming one derivation is that derivation's failure (a builder's exit code,
          // a hash mismatch, a missing system); the summary at exit names several.
          if (l.level === 0 && all.length === 1) onFailed(all[0]!, l.text)
          return
        }
        case 'ignored': return
      }
    }
    // Builds of one shared process run in parallel like separate processes would (nix's default
    // max-jobs of 1 would serialize them), up to `maxJobs` (default: CPU count, nix's `auto`).
    const args = ['build', '--no-link', '--keep-going', '--max-jobs', String(Math.min(byDrv.size, maxJobs)), '--log-format', 'internal-json',
      '--max-silent-time', String(opts.maxSilentTime), ...installables]
    let waiting = batch.length
    let early: Promise<void> = Promise.resolve()
    const settled = new Set<Waiting>()
    let proc: ReturnType<typeof spawn> | undefined
    let exited = false
    let overall: NodeJS.Timeout | undefined
    let timedOut = false
    // Nobody waits for the process any more (all answered or stopped): end it.
    const settle = (w: Waiting, r: BatchBuildResult): void => {
      if (settled.has(w)) return
      settled.add(w)
      w.resolve(r)
      if (--waiting === 0 && proc && !exited) proc.kill('SIGTERM')
    }
    const rc = await new Promise<number | null>((resolve) => {
      const p = spawn(opts.nixBin ?? 'nix', args, { stdio: ['ignore', 'ignore', 'pipe'], env: minimalEnvironment() })
      proc = p
      for (const w of batch) w.req.onStart?.(byDrv.size)
      // Stopped while the process was being prepared, or from now on.
      for (const w of batch) {
        if (w.req.signal?.aborted) settle(w, { ok: false, rc: null })
        else w.req.signal?.addEventListener('abort', () => settle(w, { ok: false, rc: null }), { once: true })
      }
      let silent: NodeJS.Timeout | undefined
      const arm = (): void => { if (silent) silent.refresh(); else silent = setTimeout(() => p.kill('SIGKILL'), opts.timeout * 1000) }
      arm()
      const limit = opts.buildTimeout
      overall = limit ? setTimeout(() => { timedOut = true; p.kill('SIGKILL') }, limit * 1000) : undefined
      let rest = ''
      p.stderr.setEncoding('utf8')
      p.stderr.on('data', (chunk: string) => {
        arm()
        const lines = (rest + chunk).split('\n')
        rest = lines.pop()!
        for (const l of lines) onLine(l)
      })
      p.on('error', (err) => {
        exited = true
        emit(undefined, `cannot run nix: ${err.message}\n`)
        if (silent) clearTimeout(silent)
        if (overall) clearTimeout(overall)
        resolve(null)
      })
      p.on('close', (code) => {
        exited = true
        if (rest) onLine(rest)
        if (silent) clearTimeout(silent)
        if (overall) clearTimeout(overall)
        resolve(code)
      })
    })
    if (checkTimer) { clearTimeout(checkTimer); checkTimer = undefined }
    await early
    await failing
    const validAtEnd = await valid(batch.filter((w) => !settled.has(w)).flatMap((w) => w.req.outPaths)).catch(() => new Set<string>())
    for (const w of batch) {
      if (settled.has(w)) continue
      const ok = w.req.outPaths.length > 0 && w.req.outPaths.every((p) => validAtEnd.has(p))
      if (!ok && timedOut) {
        w.req.onLog(`nix build timed out after ${opts.buildTimeout} s (buildTimeout): killed\n`)
        settle(w, { ok: false, rc, timedOutAfter: opts.buildTimeout })
        continue
      }
      if (!ok && !gotError.has(w.req.drvPath)) {
        // nix 2.8 does not say which requested derivation a failed dependency stopped.
        w.req.onLog(`${w.req.drvPath} was not built; errors of the shared nix build:\n${errors.join('\n') || '(none)'}\n`)
      }
      if (!ok && rc !== 0 && unowned.length) w.req.onLog(`--- output of the shared nix build not tied to one derivation (last ${unowned.length} lines) ---\n${unowned.join('')}`)
      // The exit code is the whole process's (a failure of another derivation makes it 1).
      settle(w, { ok, rc: ok ? 0 : rc })
    }
  }

  const start = (): void => {
    if (timer) { clearTimeout(timer); timer = undefined }
    while (queue.length) {
      const batch = queue.slice(0, max)
      queue = queue.slice(max)
      const p = runBatch(batch).catch((err: Error) => { for (const w of batch) { w.req.onLog(`shared nix build failed: ${err.message}\n`); w.resolve({ ok: false, rc: null }) } })
      running.add(p)
      void p.finally(() => running.delete(p))
    }
  }

  return {
    /** Builds `req` together with the requests arriving in the next few milliseconds. */
    build(req: BatchBuildRequest): Promise<BatchBuildResult> {
      return new Promise((resolve) => {
        if (req.signal?.aborted) { resolve({ ok: false, rc: null }); return }
        const w: Waiting = { req, resolve }
        // Stopped while still queued: leave the queue at once.
        req.signal?.addEventListener('abort', () => {
          if (!queue.includes(w)) return
          queue = queue.filter((x) => x !== w)
          resolve({ ok: false, rc: null })
        }, { once: true })
        queue.push(w)
        if (queue.length >= max) start()
        // While shared processes run, requests are collected longer: each process costs a nix
        // start, and children that trickle in would otherwise get one each.
        else timer ??= setTimeout(start, running.size ? Math.max(delay, Math.min(MAX_BUSY_WINDOW_MS, 100 * running.size)) : delay)
      })
    },
    /** Waits for the running processes (at stop). */
    async drain(): Promise<void> { start(); await Promise.allSettled([...running]) },
  }
}

export type NixBuildBatcher = ReturnType<typeof createBuildBatcher>
