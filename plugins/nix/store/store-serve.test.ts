import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../../test/support/tools.ts'
import { createStoreServe } from './store-serve.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const tmp = mkdtempSync(join(tmpdir(), 'store-serve-'))

test('one nix-store --serve answers which paths are valid, question after question, and survives its process dying', async () => {
  if (!hasNix) return
  const file = join(tmp, 'f.txt')
  writeFileSync(file, `${process.pid} ${Date.now()}\n`)
  const added = execFileSync('nix-store', ['--add', file], { encoding: 'utf8' }).trim()
  const missing = added.replace(/\/[0-9a-z]{32}-/, `/${'0'.repeat(32)}-`)
  const serve = createStoreServe()
  try {
    assert.equal([...await serve.validPaths([added, missing, 'not-a-store-path', added])], [added])
    const answers = await Promise.all([serve.validPaths([missing]), serve.validPaths([added]), serve.validPaths([])])
    assert.equal(answers.map((a) => [...a]), [[], [added], []])
    // The process ends under it: the question is still answered, and the next one too.
    execFileSync('pkill', ['-P', String(process.pid), '-f', '^nix-store --serve$'])
    assert.equal([...await serve.validPaths([added, missing])], [added])
    assert.equal([...await serve.validPaths([added])], [added])
  } finally {
    serve.close()
  }
  // Closed: answered by nix-store --check-validity.
  assert.equal([...await serve.validPaths([added, missing])], [added])
})

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
