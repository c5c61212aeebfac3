// Runs a command-line entry of this package from an esbuild bundle of its TypeScript sources
// (a few tens of ms to build): no TypeScript loader stays in memory. `BUILDBOT_NIX_TSX=1` runs
// the sources under tsx instead. Each `bin` of package.json is a two-line file calling `launch`.
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Imports `entry` (a path relative to the package root, e.g. `core/index.ts`), calls its export
 * `exportName(argv)` and sets the exit code from its result.
 */
export async function launch(entry, exportName = 'main') {
  let mod
  if (process.env.BUILDBOT_NIX_TSX === '1') {
    const { register } = await import('tsx/esm/api')
    register()
    mod = await import(pathToFileURL(join(root, entry)).href)
  } else {
    // esbuild runs as its own binary, so it never stays in memory. The bundle lives in the
    // checkout itself (not node_modules, which checkouts may share), so it finds its root.
    const { execFileSync } = await import('node:child_process')
    const out = join(root, '.cache/buildbot-nix', `${entry.replace(/[^A-Za-z0-9]+/g, '-').replace(/-ts$/, '')}.mjs`)
    execFileSync(join(root, 'node_modules/.bin/esbuild'), [join(root, entry), '--bundle', '--platform=node', '--format=esm',
      '--target=node20', '--packages=external', `--outfile=${out}`, '--log-level=warning'], { stdio: ['ignore', 'inherit', 'inherit'] })
    mod = await import(pathToFileURL(out).href)
  }
  process.exitCode = await mod[exportName](process.argv.slice(2))
}
