import { cp, mkdir, readdir, rm, stat, open, chmod, utimes } from 'node:fs/promises'
import { dirname, join, sep } from 'node:path'
import type { CommandListener, CommandResult, DirectoryWriter, FileReader, FileWriter } from '../worker-connection.ts'
import { minimalEnvironment } from './minimal-environment.ts'

const ok = (updates: Record<string, unknown> = {}): CommandResult => ({ rc: 0, updates })
function fail(listener: CommandListener, what: string, err: unknown): CommandResult {
  const e = err as NodeJS.ErrnoException
  listener.output?.('h', `${what}: ${e.message}\n`)
  return { rc: typeof e.errno === 'number' ? Math.abs(e.errno) : 1, updates: {} }
}

/** The non-shell worker commands, on this machine's filesystem (paths already absolute). */
export async function runLocalFileCommand(name: string, args: Record<string, unknown>, listener: CommandListener,
  io: { writer?: FileWriter | DirectoryWriter; reader?: FileReader }): Promise<CommandResult> {
  switch (name) {
    case 'mkdir':
      try { for (const p of args.paths as string[]) await mkdir(p, { recursive: true }); return ok() } catch (e) { return fail(listener, 'mkdir', e) }
    case 'rmdir':
      try { for (const p of args.paths as string[]) await rm(p, { recursive: true, force: true }); return ok() } catch (e) { return fail(listener, 'rmdir', e) }
    case 'cpdir':
      try { await cp(args.from_path as string, args.to_path as string, { recursive: true }); return ok() } catch (e) { return fail(listener, 'cpdir', e) }
    case 'rmfile':
      try { await rm(args.path as string, { force: true }); return ok() } catch (e) { return fail(listener, 'rmfile', e) }
    case 'stat':
      try {
        const s = await stat(args.path as string)
        const st = [s.mode, s.ino, s.dev, s.nlink, s.uid, s.gid, s.size, Math.floor(s.atimeMs / 1000), Math.floor(s.mtimeMs / 1000), Math.floor(s.ctimeMs / 1000)]
        listener.update?.('stat', st)
        return ok({ stat: st })
      } catch (e) { return fail(listener, 'stat', e) }
    case 'listdir':
      try { const files = await readdir(args.path as string); listener.update?.('files', files); return ok({ files }) } catch (e) { return fail(listener, 'listdir', e) }
    case 'glob': {
      const files = await globFiles(args.path as string)
      listener.update?.('files', files)
      return ok({ files })
    }
    case 'upload_file': {
      const writer = io.writer as FileWriter
      const blocksize = Number(args.blocksize ?? 16384)
      const maxsize = args.maxsize == null ? Infinity : Number(args.maxsize)
      listener.output?.('h', `sending ${args.path}\n`)
      try {
        const fh = await open(args.path as string, 'r')
        const buf = Buffer.alloc(blocksize)
        let sent = 0
        try {
          for (;;) {
            const { bytesRead } = await fh.read(buf, 0, Math.min(blocksize, maxsize - sent), null)
            if (!bytesRead) break
            await writer.write(buf.subarray(0, bytesRead))
            sent += bytesRead
            if (sent >= maxsize) { listener.output?.('e', `Maximum filesize reached, truncating file '${args.path}'\n`); break }
          }
          const s = await fh.stat()
          await writer.close()
          if (args.keepstamp) await writer.utime?.(s.atimeMs / 1000, s.mtimeMs / 1000)
        } finally { await fh.close() }
        return ok()
      } catch (e) { await writer.close(); return fail(listener, 'upload', e) }
    }
    case 'upload_directory': {
      const writer = io.writer as DirectoryWriter
      const flag = args.compress === 'gz' ? ['-z'] : args.compress === 'bz2' ? ['-j'] : []
      const { execa } = await import('execa')
      const tar = execa('tar', ['-c', ...flag, '-f', '-', '-C', args.path as string, '.'], { buffer: false, encoding: 'buffer', reject: false, env: minimalEnvironment(), extendEnv: false })
      for await (const chunk of tar.stdout!) await writer.write(chunk as Uint8Array)
      const res = await tar
      await writer.unpack()
      if (res.exitCode !== 0) { listener.output?.('e', `tar failed with exit code ${res.exitCode}\n`); return { rc: 1, updates: {} } }
      return ok()
    }
    case 'download_file': {
      const reader = io.reader!
      const maxsize = args.maxsize == null ? Infinity : Number(args.maxsize)
      const blocksize = Number(args.blocksize ?? 16384)
      try {
        const fh = await open(args.path as string, 'w')
        let got = 0
        try {
          for (;;) {
            const chunk = await reader.read(Math.min(blocksize, maxsize - got))
            if (!chunk.length) break
            await fh.write(chunk)
            got += chunk.length
            if (got >= maxsize) { listener.output?.('e', `Maximum filesize reached, truncating file '${args.path}'\n`); break }
          }
        } finally { await fh.close(); await reader.close() }
        if (args.mode != null) await chmod(args.path as string, Number(args.mode))
        return ok()
      } catch (e) { return fail(listener, 'download', e) }
    }
    default:
      throw new Error(`unknown worker command '${name}'`)
  }
}

export { utimes }

/** Paths matching a pattern with `*`, `?` and `**` (any depth), sorted. */
export async function globFiles(pattern: string): Promise<string[]> {
  const firstMagic = pattern.search(/[*?[]/)
  if (firstMagic === -1) return stat(pattern).then(() => [pattern], () => [])
  const root = dirname(pattern.slice(0, firstMagic) + 'x')
  const re = new RegExp('^' + pattern.split(/(\*\*\/?|\*|\?)/).map((part) =>
    part === '**/' || part === '**' ? '(?:.*/)?' + (part === '**' ? '.*' : '') : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('') + '$')
  const out: string[] = []
  async function walk(dir: string, depth: number): Promise<void> {
    if (depth > 40) return
    let entries
    try { entries = await readdir(dir, { withFileTypes: true }) } catch { return }
    for (const e of entries) {
      const p = join(dir, e.name)
      if (re.test(p)) out.push(p)
      if (e.isDirectory()) await walk(p, depth + 1)
    }
  }
  await walk(root, 0)
  void sep
  return out.sort()
}
