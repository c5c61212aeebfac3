import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { buildUi } from './build.ts'
import { CONFIG_PLACEHOLDER } from './index-html.ts'

test('the bundle is one ESM file, within budget, loaded by an index.html with the config placeholder', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bb-ui-build-'))
  try {
    const { files } = await buildUi({ outDir: dir })
    assert.ok(files.includes(join(dir, 'app.js')))
    assert.ok(files.includes(join(dir, 'index.html')))
    const html = await readFile(join(dir, 'index.html'), 'utf8')
    assert.ok(html.includes(CONFIG_PLACEHOLDER))
    assert.match(html, '<script type="module" src="app.js"></script>')
    const js = await readFile(join(dir, 'app.js'))
    assert.not.match(js.toString(), /from\s*["'](lit|@lit)/, 'no bare imports left for the browser')
    const gzipKiB = gzipSync(js).length / 1024
    assert.ok(gzipKiB <= 150, `bundle is ${gzipKiB.toFixed(1)} KiB gzip, budget 150`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
