import { optionsFingerprint } from '../schedulers/options-fingerprint.ts'
import { mkdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import type { ChangeSourceSpec } from './change-source.ts'

export interface GitPollerOptions {
  /** Any git URL, including a local path. */
  repourl: string
  /** Branch names to follow, `true` for all branches (default: the remote's HEAD branch). */
  branches?: string[] | true
  /** Seconds between polls (default 60). */
  pollInterval?: number
  project?: string
  name?: string
  category?: string
  /** Create changes for the branch heads found by the very first poll (default true). */
  buildOnFirstPoll?: boolean
  /**
   * Seconds one git call may take before it is killed and the poll fails (default 300), so a
   * remote that hangs cannot block the poller; stopping the poller kills a running call at once.
   */
  timeout?: number
  /**
   * Seconds before the first poll (default 0). Plugins polling many repositories give each its
   * own offset, so their polls are spread rather than all at once.
   */
  firstPollDelay?: number
  /**
   * A revision already stored as a change of this repository and branch makes no new change
   * (default false, as Buildbot): a master stopped between storing a change and saving what it
   * polled does not build it again, nor does a branch reset to a commit built before.
   */
  skipKnownRevisions?: boolean
}

const DEFAULT_TIMEOUT_S = 300

const runGit = async (args: string[], cwd: string | undefined, timeoutMs: number, signal: AbortSignal, env: Record<string, string> = {}) => {
  signal.throwIfAborted()
  const { execa } = await import('execa')
  try {
    return await execa('git', args, { cwd, env: { ...env, GIT_TERMINAL_PROMPT: '0' }, timeout: timeoutMs, cancelSignal: signal, forceKillAfterDelay: 2000 })
  } catch (err) {
    const e = err as { timedOut?: boolean; isCanceled?: boolean; message?: string; stderr?: unknown; exitCode?: number }
    if (e.timedOut) throw new Error(`git ${args[0]} timed out after ${timeoutMs / 1000} s (the remote did not answer; see the poller's \`timeout\`)`)
    if (e.isCanceled) throw new Error(`git ${args[0]} was stopped (the poller stopped)`)
    // What git said (an ssh host key refused, a missing repository), not only its exit code.
    const said = typeof e.stderr === 'string' ? e.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('@@@') && !/^(fatal: )?(Could not read from remote|Please make sure you have the correct access|and the repository exists)/.test(l)).slice(-3).join(' / ') : ''
    if (said) throw Object.assign(new Error(`git ${args[0]} failed (exit ${e.exitCode ?? '?'}): ${said}`), { stderr: e.stderr })
    throw err
  }
}

/**
 * Polls a repository with `git ls-remote`, fetches new heads into a bare mirror, and adds one
 * change per new commit (the newest 100 per branch update) with author, comments and files.
 */
export function gitPoller(opts: GitPollerOptions): ChangeSourceSpec {
  const name = opts.name ?? `gitpoller:${opts.repourl}`
  return {
    kind: 'changesource', type: 'gitPoller', name,
    fingerprint: { options: optionsFingerprint(opts), firstPollDelay: opts.firstPollDelay ?? 0, repourl: opts.repourl, branches: opts.branches ?? null, pollInterval: opts.pollInterval ?? 60, project: opts.project ?? '', timeout: opts.timeout ?? DEFAULT_TIMEOUT_S },
    create(s) {
      let timer: NodeJS.Timeout | undefined
      let running: Promise<void> | undefined
      const mirror = `${s.workdir}/mirror.git`
      // Aborted when the poller stops: kills a git call still running (a hung remote).
      const stopped = new AbortController()
      const signal = AbortSignal.any([s.signal, stopped.signal])
      const timeoutMs = (opts.timeout ?? DEFAULT_TIMEOUT_S) * 1000
      // Credentials a plugin gives for this URL (an SSH key and known_hosts, a token helper).
      let access: Promise<Record<string, string>> | undefined
      const accessEnv = () => (access ??= (s.gitAccess ? s.gitAccess(opts.repourl) : Promise.resolve(undefined)).then((a) => a?.env ?? {}))
      const git = async (args: string[], cwd?: string) => runGit(args, cwd, timeoutMs, signal, await accessEnv())

      async function heads(): Promise<Map<string, string>> {
        const out = (await git(['ls-remote', '--symref', opts.repourl])).stdout
        const all = new Map<string, string>()
        let headBranch: string | undefined
        for (const line of out.split('\n')) {
          const sym = /^ref: refs\/heads\/(\S+)\s+HEAD$/.exec(line)
          if (sym) { headBranch = sym[1]; continue }
          const m = /^([0-9a-f]{40})\s+refs\/heads\/(.+)$/.exec(line)
          if (m) all.set(m[2]!, m[1]!)
        }
        if (opts.branches === true) return all
        const wanted = opts.branches ?? (headBranch ? [headBranch] : [...all.keys()].slice(0, 1))
        return new Map([...all].filter(([b]) => wanted.includes(b)))
      }

      async function poll(): Promise<void> {
        const current = await heads()
        const last = await s.getState<Record<string, string> | null>('lastRev', null)
        const changed = [...current].filter(([b, rev]) => last?.[b] !== rev)
        if (!changed.length) return
        const seen: Record<string, string> = { ...last }
        if (!existsSync(mirror)) { await mkdir(s.workdir, { recursive: true }); await git(['init', '-q', '--bare', mirror]) }
        await git(['fetch', '-q', '--force', opts.repourl, ...changed.map(([b]) => `+refs/heads/${b}:refs/heads/${b}`)], mirror)
        for (const [branch, rev] of changed) {
          const prev = last?.[branch]
          if (!last && opts.buildOnFirstPoll === false) continue
          let revs = [rev]
          if (prev) {
            const list = (await git(['rev-list', '--reverse', '--max-count=100', `${prev}..${rev}`], mirror).catch(() => ({ stdout: rev }))).stdout.trim()
            revs = list ? list.split('\n') : []
          }
          for (const r of revs) {
            if (opts.skipKnownRevisions && await s.data.db.k.selectFrom('changes').select('changeid')
              .where('repository', '=', opts.repourl).where('branch', '=', branch).where('revision', '=', r).limit(1).executeTakeFirst()) continue
            const info = (await git(['show', '-s', '--format=%an <%ae>%x00%cn <%ce>%x00%ct%x00%B', r], mirror)).stdout.split('\u0000')
            const files = (await git(['diff-tree', '--no-commit-id', '--name-only', '-r', '--root', r], mirror)).stdout.split('\n').filter(Boolean)
            await s.addChange({
              author: info[0] ?? '', committer: info[1] ?? null, when_timestamp: Number(info[2]), comments: (info[3] ?? '').trim(),
              revision: r, branch, repository: opts.repourl, project: opts.project ?? '', category: opts.category ?? 'push', files,
            })
          }
          // Saved per branch: a stop in the middle of many branches redoes only the rest.
          seen[branch] = rev
          await s.setState('lastRev', { ...seen })
        }
        await s.setState('lastRev', Object.fromEntries(current))
      }

      const loop = () => {
        running = poll().catch((err) => s.log.warn({ repourl: opts.repourl, err: (err as Error).message.split('\n')[0] }, 'git poll failed'))
          .finally(() => { if (!signal.aborted) timer = setTimeout(loop, (opts.pollInterval ?? 60) * 1000) })
      }
      return {
        start() {
          const delay = Math.max(0, opts.firstPollDelay ?? 0) * 1000
          if (delay) timer = setTimeout(loop, delay)
          else loop()
        },
        async stop() { stopped.abort(); if (timer) clearTimeout(timer); await running },
        poll: async () => { await running; await poll() },
      }
    },
  }
}
