import { spawn, type ChildProcess } from 'node:child_process'
import { minimalEnvironment } from '../../../core/index.ts'
import { validPaths } from './store-validity.ts'

// `nix-store --serve` speaks the protocol of nix's legacy SSH store: 64-bit little-endian
// integers, and strings as their length then their bytes padded to 8.
const SERVE_MAGIC_1 = 0x390c9deb
const SERVE_MAGIC_2 = 0x5452eecb
const CLIENT_VERSION = 0x206
const CMD_QUERY_VALID_PATHS = 1
const STORE_PATH = /^\/[^\0]*\/[0-9a-z]{32}-[A-Za-z0-9+._?=-][A-Za-z0-9+._?=-]*$/

function u64(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(n))
  return b
}

function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8')
  return Buffer.concat([u64(bytes.length), bytes, Buffer.alloc((8 - (bytes.length % 8)) % 8)])
}

/** Reads integers and strings of the serve protocol from a byte stream, as they arrive. */
function createReader() {
  let buf: Buffer = Buffer.alloc(0)
  let want: { n: number; resolve(b: Buffer): void; reject(e: Error): void } | undefined
  let failed: Error | undefined
  const pump = (): void => {
    if (want && buf.length >= want.n) {
      const w = want
      want = undefined
      const out = buf.subarray(0, w.n)
      buf = buf.subarray(w.n)
      w.resolve(out)
    }
  }
  const take = (n: number): Promise<Buffer> => new Promise((resolve, reject) => {
    if (failed) { reject(failed); return }
    want = { n, resolve, reject }
    pump()
  })
  return {
    push(chunk: Buffer): void { buf = buf.length ? Buffer.concat([buf, chunk]) : chunk; pump() },
    fail(e: Error): void { failed = e; const w = want; want = undefined; w?.reject(e) },
    async int(): Promise<number> { return Number((await take(8)).readBigUInt64LE()) },
    async string(): Promise<string> {
      const len = await this.int()
      const padded = len + ((8 - (len % 8)) % 8)
      return (await take(padded)).subarray(0, len).toString('utf8')
    },
  }
}

/**
 * Asks one long-running `nix-store --serve` which store paths are valid, instead of starting a
 * `nix-store` per question (a fork of the master each time, and nix opening its database each
 * time). Questions are answered one at a time, in order. When the process cannot run or dies,
 * that question and the next ones go to `nix-store --check-validity`, and a new process is
 * started for the question after.
 */
export function createStoreServe(opts: { nixStore?: string } = {}) {
  let proc: ChildProcess | undefined
  let reader: ReturnType<typeof createReader> | undefined
  let ready: Promise<void> | undefined
  let queue: Promise<unknown> = Promise.resolve()
  let closed = false

  const start = (): Promise<void> => {
    const p = spawn(opts.nixStore ?? 'nix-store', ['--serve'], { stdio: ['pipe', 'pipe', 'ignore'], env: minimalEnvironment() })
    const r = createReader()
    proc = p
    reader = r
    p.stdout!.on('data', (c: Buffer) => r.push(c))
    const gone = (e: Error): void => { r.fail(e); if (proc === p) { proc = undefined; ready = undefined } }
    p.on('error', (e) => gone(e))
    p.on('close', () => gone(new Error('nix-store --serve ended')))
    p.stdin!.on('error', () => undefined)
    p.stdin!.write(Buffer.concat([u64(SERVE_MAGIC_1), u64(CLIENT_VERSION)]))
    return (async () => {
      if ((await r.int()) !== SERVE_MAGIC_2) throw new Error('nix-store --serve: protocol mismatch')
      await r.int()
    })()
  }

  const ask = async (paths: string[]): Promise<Set<string>> => {
    ready ??= start()
    await ready
    const p = proc!
    const r = reader!
    p.stdin!.write(Buffer.concat([u64(CMD_QUERY_VALID_PATHS), u64(0), u64(0), u64(paths.length), ...paths.map(str)]))
    const n = await r.int()
    const valid = new Set<string>()
    for (let i = 0; i < n; i++) valid.add(await r.string())
    return valid
  }

  return {
    /** Which of `paths` are valid in the store (malformed ones never are). */
    validPaths(paths: readonly string[]): Promise<Set<string>> {
      const wellFormed = [...new Set(paths)].filter((p) => STORE_PATH.test(p))
      if (!wellFormed.length) return Promise.resolve(new Set())
      const next = queue.then(async () => {
        if (closed) return validPaths(wellFormed, opts)
        try {
          return await ask(wellFormed)
        } catch {
          proc?.kill()
          proc = undefined
          ready = undefined
          return validPaths(wellFormed, opts)
        }
      })
      queue = next.catch(() => undefined)
      return next
    },
    /** Ends the process. */
    close(): void {
      closed = true
      proc?.stdin?.end()
      proc = undefined
      ready = undefined
    },
  }
}

export type StoreServe = ReturnType<typeof createStoreServe>
