import { execFile } from 'node:child_process'
import { autoRootsDir, canAddIndirectRoots, pointGcRoot, prepareGcRoot } from './store/gc-roots.ts'

type How = 'created' | 'updated' | 'unchanged'
interface Waiting { path: string; attr: string; out: string; existed: boolean; resolve(h: How): void; reject(e: Error): void }

// One shell runs the registrations of a batch, so the master forks once instead of per root.
const SCRIPT = 'while [ $# -gt 1 ]; do if err=$(nix-store --add-root "$1" -r "$2" 2>&1 >/dev/null); then echo "ok"; else echo "fail $(printf %s "$err" | tr "\\n" " ")"; fi; shift 2; done'

/**
 * `registerGcRoot` for many attributes at once (same checks: a non-symlink at the root path is
 * never replaced, a root already pointing at the output is left alone). The outputs are valid
 * (just built, or found built). A root that exists is re-pointed without nix (it is registered
 * already), and a new one too when this process may write the indirect roots directory;
 * otherwise one shell runs `nix-store --add-root` for the batch (each costs a nix process).
 */
export function createGcRootBatcher(opts: { delayMs?: number; maxBatch?: number; nixStore?: string; autoRootsDir?: string } = {}) {
  let queue: Waiting[] = []
  let timer: NodeJS.Timeout | undefined
  const max = opts.maxBatch ?? 200
  const autoDir = opts.autoRootsDir ?? autoRootsDir()
  let writable: Promise<boolean> | undefined

  const run = (batch: Waiting[]): void => {
    const args = ['-c', SCRIPT.replace('nix-store', opts.nixStore ?? 'nix-store'), 'sh', ...batch.flatMap((w) => [w.path, w.out])]
    execFile('/bin/sh', args, { maxBuffer: 16 << 20 }, (err, stdout) => {
      const lines = String(stdout).split('\n')
      batch.forEach((w, i) => {
        const l = lines[i]
        if (l === 'ok') w.resolve(w.existed ? 'updated' : 'created')
        else w.reject(new Error(`nix-store --add-root ${w.path} -r ${w.out} failed: ${l?.slice(5) || err?.message || 'no answer'}`))
      })
    })
  }
  const flush = (): void => {
    if (timer) { clearTimeout(timer); timer = undefined }
    while (queue.length) { run(queue.slice(0, max)); queue = queue.slice(max) }
  }

  return {
    /** Points the root of `attr` (or of its `output`, see `gcRootName`) at `outPath`. */
    async register(dir: string, attr: string, outPath: string, output?: string): Promise<How> {
      const check = await prepareGcRoot(dir, attr, outPath, output)
      if (check === 'unchanged') return check
      writable ??= canAddIndirectRoots(autoDir)
      if (await writable) {
        await pointGcRoot(check.path, outPath, autoDir)
        return check.existed ? 'updated' : 'created'
      }
      if (check.existed) {
        await pointGcRoot(check.path, outPath)
        return 'updated'
      }
      return new Promise<How>((resolve, reject) => {
        queue.push({ path: check.path, attr, out: outPath, existed: check.existed, resolve, reject })
        if (queue.length >= max) flush()
        else timer ??= setTimeout(flush, opts.delayMs ?? 250)
      })
    },
  }
}

export type GcRootBatcher = ReturnType<typeof createGcRootBatcher>
