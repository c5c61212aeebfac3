import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The directory of buildbot-nix's package.json, found from a module URL (source or bundle). */
export function projectRoot(from: string): string {
  let dir = dirname(fileURLToPath(from))
  for (;;) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      try { if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'buildbot-nix') return dir } catch { /* keep looking */ }
    }
    const up = dirname(dir)
    if (up === dir) throw new Error('cannot find the buildbot-nix package directory')
    dir = up
  }
}
