import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectDb, parseDbUrl } from './connect.ts'
import { LATEST_VERSION } from './migrations.ts'

test('parses sqlite urls in both forms', () => {
  assert.equal(parseDbUrl('sqlite:state/x.sqlite', '/base').path, '/base/state/x.sqlite')
  assert.equal(parseDbUrl('sqlite:///abs/x.sqlite', '/base').path, '/abs/x.sqlite')
  assert.equal(parseDbUrl('postgresql://u@h/db', '/base').dialect, 'postgres')
  assert.throws(() => parseDbUrl('mysql://x', '/'), /unsupported database url/)
})

test('migrates a fresh sqlite file and reopens it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-db-'))
  const db = await connectDb(`sqlite:${dir}/s.sqlite`)
  const v = await db.k.selectFrom('schema_version').select('version').executeTakeFirstOrThrow()
  assert.is(Number(v.version), LATEST_VERSION)
  await db.close()
  const again = await connectDb(`sqlite:${dir}/s.sqlite`)
  await again.close()
  rmSync(dir, { recursive: true })
})

test('refuses a newer schema with a clear message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-db-'))
  const db = await connectDb(`sqlite:${dir}/s.sqlite`)
  await db.k.updateTable('schema_version').set({ version: LATEST_VERSION + 5 }).execute()
  await db.close()
  try {
    await connectDb(`sqlite:${dir}/s.sqlite`)
    assert.unreachable('should refuse')
  } catch (err) {
    assert.match((err as Error).message, /newer than this master/)
  }
  rmSync(dir, { recursive: true })
})

test('refuses a corrupt file with a clear message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-db-'))
  writeFileSync(`${dir}/s.sqlite`, 'this is not a database at all, just text'.repeat(200))
  try {
    await connectDb(`sqlite:${dir}/s.sqlite`)
    assert.unreachable('should refuse')
  } catch (err) {
    assert.match((err as Error).message, /cannot (open|prepare) the (sqlite )?database/)
  }
  rmSync(dir, { recursive: true })
})

test.run()
