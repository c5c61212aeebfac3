import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { BufferReader, LocalDirectoryWriter, LocalFileReader, LocalFileWriter } from './transfer.ts'

const ctx = { dir: '' }
test.before(async () => { ctx.dir = await mkdtemp(join(tmpdir(), 'bbnix-transfer-')) })
test.after(async () => { await rm(ctx.dir, { recursive: true, force: true }) })

test('LocalFileWriter writes through a temp file, honours maxsize, mode and utime', async () => {
  const dest = join(ctx.dir, 'a', 'b', 'f.bin')
  const w = new LocalFileWriter(dest, { maxsize: 5, mode: 0o600 })
  await w.write(Buffer.from('abc'))
  assert.not.ok(existsSync(dest), 'nothing under the final name before close')
  await w.write(Buffer.from('defgh'))
  await w.close()
  await w.utime(1_000_000, 2_000_000)
  assert.is(await readFile(dest, 'utf8'), 'abcde')
  const st = await stat(dest)
  assert.is(st.mode & 0o777, 0o600)
  assert.is(st.mtimeMs, 2_000_000_000)
  assert.equal(await readdir(join(ctx.dir, 'a', 'b')), ['f.bin'])
})

test('LocalFileWriter: an empty upload still creates the file; cancel leaves nothing', async () => {
  const empty = join(ctx.dir, 'empty.bin')
  const w = new LocalFileWriter(empty)
  await w.close()
  assert.is((await stat(empty)).size, 0)
  const c = new LocalFileWriter(join(ctx.dir, 'c', 'cancelled.bin'))
  await c.write(Buffer.from('x'))
  await c.cancel()
  assert.equal(await readdir(join(ctx.dir, 'c')), [])
})

for (const compress of [null, 'gz', 'bz2'] as const) {
  test(`LocalDirectoryWriter unpacks a ${compress ?? 'plain'} tar stream`, async () => {
    const src = join(ctx.dir, `src-${compress}`)
    await mkdir(join(src, 'sub'), { recursive: true })
    const data = randomBytes(10_000)
    await writeFile(join(src, 'sub', 'x.bin'), data)
    const flag = compress === 'gz' ? ['-z'] : compress === 'bz2' ? ['-j'] : []
    const tar = execFileSync('tar', ['-c', ...flag, '-f', '-', '-C', src, '.'])
    const dest = join(ctx.dir, `dest-${compress}`)
    const w = new LocalDirectoryWriter(dest, { compress })
    for (let i = 0; i < tar.length; i += 3000) await w.write(tar.subarray(i, i + 3000))
    await w.unpack()
    assert.ok(Buffer.compare(await readFile(join(dest, 'sub', 'x.bin')), data) === 0)
    assert.not.ok((await readdir(ctx.dir)).some((n) => n.startsWith('.upload-')), 'the spooled tar is removed')
  })
}

test('LocalDirectoryWriter rejects a broken archive and removes its spool file', async () => {
  const w = new LocalDirectoryWriter(join(ctx.dir, 'broken'), { compress: 'gz' })
  await w.write(Buffer.from('not a tar at all'))
  let failed = false
  await w.unpack().catch(() => { failed = true })
  assert.ok(failed)
  assert.not.ok((await readdir(ctx.dir)).some((n) => n.startsWith('.upload-')))
})

test('BufferReader and LocalFileReader give the bytes in chunks, then an empty array', async () => {
  const data = randomBytes(2500)
  const path = join(ctx.dir, 'r.bin')
  await writeFile(path, data)
  for (const r of [new BufferReader(data), new LocalFileReader(path)]) {
    const parts: Uint8Array[] = []
    for (;;) {
      const chunk = await r.read(1000)
      if (chunk.byteLength === 0) break
      assert.ok(chunk.byteLength <= 1000)
      parts.push(chunk)
    }
    await r.close()
    assert.is(parts.length, 3)
    assert.ok(Buffer.compare(Buffer.concat(parts), data) === 0)
  }
  assert.is(new TextDecoder().decode(new BufferReader('héllo').read(100)), 'héllo')
})

test.run()
