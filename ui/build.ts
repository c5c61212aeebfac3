import { build } from 'esbuild'
import { mkdir, writeFile, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { indexHtml } from './index-html.ts'

const here = fileURLToPath(new URL('.', import.meta.url))

/**
 * Bundles the UI into `outDir`: `app.js` (ESM, es2022, minified by default), `app.css` when any
 * CSS is imported, and `index.html` holding the config placeholder the master fills in.
 */
export async function buildUi(opts: { outDir: string; minify?: boolean }): Promise<{ files: string[] }> {
  const outDir = resolve(opts.outDir)
  await mkdir(outDir, { recursive: true })
  await rm(join(outDir, 'app.css'), { force: true })
  await build({
    entryPoints: { app: join(here, 'src/main.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: opts.minify ?? true,
    legalComments: 'none',
    logLevel: 'warning',
    // Lit relies on assignment semantics for reactive properties declared with `declare`.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false, experimentalDecorators: false, verbatimModuleSyntax: true } },
  })
  const hasCss = existsSync(join(outDir, 'app.css'))
  await writeFile(join(outDir, 'index.html'), indexHtml({ css: hasCss }))
  return { files: ['app.js', ...(hasCss ? ['app.css'] : []), 'index.html'].map((f) => join(outDir, f)) }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ?? join(here, 'dist')
  const { files } = await buildUi({ outDir })
  console.log(files.join('\n'))
}
