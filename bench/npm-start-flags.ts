import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The node flags `npm start` runs the master with, read from package.json's start script. */
export function npmStartFlags(): string[] {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { scripts: { start: string } }
  return pkg.scripts.start.split(/\s+/).filter((w) => w.startsWith('--'))
}
