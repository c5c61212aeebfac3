#!/usr/bin/env node
// Bundles core with esbuild (a few tens of ms) and runs it from the bundle: no TypeScript loader
// stays in the master's memory. `BUILDBOT_NIX_TSX=1` runs from the sources under tsx instead.
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
let main
if (process.env.BUILDBOT_NIX_TSX === '1') {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ main } = await import(pathToFileURL(join(root, 'core/cli/main.ts')).href))
} else {
  // esbuild runs as its own binary, so it never stays in the master's memory.
  const { execFileSync } = await import('node:child_process')
  // In the checkout itself (not node_modules, which checkouts may share), so the bundle finds its root.
  const out = join(root, '.cache/buildbot-nix/core.mjs')
  execFileSync(join(root, 'node_modules/.bin/esbuild'), [join(root, 'core/index.ts'), '--bundle', '--platform=node', '--format=esm',
    '--target=node20', '--packages=external', `--outfile=${out}`, '--log-level=warning'], { stdio: ['ignore', 'inherit', 'inherit'] })
  ;({ main } = await import(pathToFileURL(out).href))
}
process.exitCode = await main(process.argv.slice(2))
