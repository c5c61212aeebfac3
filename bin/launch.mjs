// Runs a command-line entry of this package from an esbuild bundle of its TypeScript sources
// (a few tens of ms to build): no TypeScript loader stays in memory. `BUILDBOT_NIX_TSX=1` runs
// the sources under tsx instead. Each `bin` of package.json is a two-line file calling `launch`.
import { accessSync, constants, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Where the bundle of `entry` lives: in the checkout itself (not node_modules, which checkouts may share), so it finds its root. */
export function bundlePath(entry) {
  return join(root, '.cache/buildbot-nix', `${entry.replace(/[^A-Za-z0-9]+/g, '-').replace(/-ts$/, '')}.mjs`)
}

/** Bundles `entry` with esbuild (its own binary, so it never stays in memory). */
export async function buildBundle(entry) {
  const { execFileSync } = await import('node:child_process')
  execFileSync(join(root, 'node_modules/.bin/esbuild'), [join(root, entry), '--bundle', '--platform=node', '--format=esm',
    '--target=node20', '--packages=external', `--outfile=${bundlePath(entry)}`, '--log-level=warning'], { stdio: ['ignore', 'inherit', 'inherit'] })
}

function writable(dir) {
  try { accessSync(dir, constants.W_OK); return true } catch { return false }
}

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
    // An installed package (read-only, e.g. in the Nix store) runs the bundle built at install time.
    const out = bundlePath(entry)
    if (!(existsSync(out) && !writable(root))) await buildBundle(entry)
    mod = await import(pathToFileURL(out).href)
  }
  process.exitCode = await mod[exportName](process.argv.slice(2))
}
