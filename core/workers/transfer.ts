import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm, utimes, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import type { DirectoryWriter, FileReader, FileWriter } from './worker-connection.ts'

const execFileAsync = promisify(execFile)

export interface LocalFileWriterOptions {
  /** Bytes kept at most; the rest is dropped (the worker stops there too and reports rc 1). */
  maxsize?: number | null
  /** Permission bits of the finished file. */
  mode?: number | null
}

/**
 * The master side of `upload_file`: writes into a temporary file beside `destPath` and renames it
 * into place on `close()`, so a half-transferred file never sits under the final name.
 */
export class LocalFileWriter implements FileWriter {
  readonly destPath: string
  private readonly tmpPath: string
  private remaining: number | null
  private readonly mode: number | null
  private handle: Promise<FileHandle> | undefined
  private done = false

  constructor(destPath: string, opts: LocalFileWriterOptions = {}) {
    this.destPath = destPath
    this.tmpPath = `${destPath}.tmp-${randomBytes(4).toString('hex')}`
    this.remaining = opts.maxsize ?? null
    this.mode = opts.mode ?? null
  }

  private file(): Promise<FileHandle> {
    this.handle ??= mkdir(dirname(this.destPath), { recursive: true }).then(() => open(this.tmpPath, 'w', this.mode ?? 0o644))
    return this.handle
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.done) throw new Error(`write after close of ${this.destPath}`)
    let chunk = data
    if (this.remaining !== null) {
      if (chunk.byteLength > this.remaining) chunk = chunk.subarray(0, this.remaining)
      this.remaining -= chunk.byteLength
    }
    const fh = await this.file()
    if (chunk.byteLength > 0) await fh.write(chunk)
  }

  async close(): Promise<void> {
    if (this.done) return
    this.done = true
    const fh = await this.file()
    if (this.mode !== null) await fh.chmod(this.mode)
    await fh.close()
    await rename(this.tmpPath, this.destPath)
  }

  /** Seconds since the epoch, as the worker sends them (after `close`). */
  async utime(accessTime: number, modifiedTime: number): Promise<void> {
    await utimes(this.done ? this.destPath : this.tmpPath, accessTime, modifiedTime)
  }

  /** Drop the partial file (the command failed or was interrupted). */
  async cancel(): Promise<void> {
    if (this.done) return
    this.done = true
    if (this.handle) await (await this.handle.catch(() => undefined))?.close().catch(() => undefined)
    await rm(this.tmpPath, { force: true })
  }
}

export type TarCompression = 'gz' | 'bz2' | null | undefined

export interface LocalDirectoryWriterOptions {
  compress?: TarCompression
  maxsize?: number | null
}

/**
 * The master side of `upload_directory`: spools the worker's tar stream to a temporary file, then
 * `unpack()` extracts it into `destDir` with the system `tar` (GNU tar drops leading `/` and
 * refuses `..` members, so the archive cannot write outside `destDir`).
 */
export class LocalDirectoryWriter implements DirectoryWriter {
  readonly destDir: string
  private readonly tarPath: string
  private readonly compress: TarCompression
  private readonly inner: LocalFileWriter

  constructor(destDir: string, opts: LocalDirectoryWriterOptions = {}) {
    this.destDir = destDir
    this.compress = opts.compress
    this.tarPath = join(dirname(destDir), `.upload-${randomBytes(6).toString('hex')}.tar`)
    this.inner = new LocalFileWriter(this.tarPath, { maxsize: opts.maxsize })
  }

  write(data: Uint8Array): Promise<void> {
    return this.inner.write(data)
  }

  async unpack(): Promise<void> {
    try {
      await this.inner.close()
      await mkdir(this.destDir, { recursive: true })
      const flag = this.compress === 'gz' ? ['-z'] : this.compress === 'bz2' ? ['-j'] : []
      await execFileAsync('tar', ['-x', ...flag, '--no-same-owner', '-f', this.tarPath, '-C', this.destDir], { maxBuffer: 1 << 20 })
    } finally {
      await rm(this.tarPath, { force: true })
    }
  }

  async cancel(): Promise<void> {
    await this.inner.cancel()
    await rm(this.tarPath, { force: true })
  }
}

/** The master side of `download_file` from a file on the master. */
export class LocalFileReader implements FileReader {
  readonly path: string
  private handle: Promise<FileHandle> | undefined
  private closed = false

  constructor(path: string) {
    this.path = path
  }

  async read(maxLength: number): Promise<Uint8Array> {
    if (this.closed) return new Uint8Array(0)
    this.handle ??= open(this.path, 'r')
    const fh = await this.handle
    const buf = Buffer.allocUnsafe(Math.max(0, Math.min(maxLength, 1 << 24)))
    const { bytesRead } = await fh.read(buf, 0, buf.byteLength, null)
    return bytesRead === buf.byteLength ? buf : buf.subarray(0, bytesRead)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.handle) await (await this.handle.catch(() => undefined))?.close().catch(() => undefined)
  }
}

/** The master side of `download_file` (Buildbot's `StringDownload`) from bytes in memory. */
export class BufferReader implements FileReader {
  private readonly data: Uint8Array
  private offset = 0

  constructor(data: Uint8Array | string) {
    this.data = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  }

  read(maxLength: number): Uint8Array {
    const end = Math.min(this.data.byteLength, this.offset + Math.max(0, maxLength))
    const chunk = this.data.subarray(this.offset, end)
    this.offset = end
    return chunk
  }

  close(): void {
    this.offset = this.data.byteLength
  }
}
