import { execFile } from 'node:child_process'

export interface StoreQueryOptions {
  /** `nix-store` binary (default from PATH). */
  nixStore?: string
  /** Paths per process (argv stays well below the kernel limit). */
  batchSize?: number
  signal?: AbortSignal
}

interface Out { ok: boolean; stdout: string; stderr: string }

function nixStore(bin: string, args: string[], signal?: AbortSignal): Promise<Out> {
  return new Promise((resolve) => {
    execFile(bin, args, { maxBuffer: 64 << 20, signal }, (err, stdout, stderr) =>
      resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr) }))
  })
}

/**
 * Which of `paths` are valid (registered and present) in the local store. One
 * `nix-store --check-validity --print-invalid` per batch; a batch the command rejects as a whole
 * (a malformed path) is retried path by path, and a path that still fails counts as invalid.
 */
export async function validPaths(paths: readonly string[], opts: StoreQueryOptions = {}): Promise<Set<string>> {
  const bin = opts.nixStore ?? 'nix-store'
  const size = opts.batchSize ?? 1000
  const unique = [...new Set(paths)]
  const valid = new Set<string>()
  const check = async (batch: string[]): Promise<boolean> => {
    const r = await nixStore(bin, ['--check-validity', '--print-invalid', ...batch], opts.signal)
    if (!r.ok) return false
    const invalid = new Set(r.stdout.split('\n').filter(Boolean))
    for (const p of batch) if (!invalid.has(p)) valid.add(p)
    return true
  }
  for (let i = 0; i < unique.length; i += size) {
    const batch = unique.slice(i, i + size)
    if (await check(batch)) continue
    opts.signal?.throwIfAborted()
    for (const p of batch) await check([p])
  }
  return valid
}

/** Whether every `.drv` in `paths` still exists in the store (e.g. to reuse an earlier evaluation). */
export async function drvsExist(paths: readonly string[], opts: StoreQueryOptions = {}): Promise<boolean> {
  const valid = await validPaths(paths, opts)
  return paths.every((p) => valid.has(p))
}
