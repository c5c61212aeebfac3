import { randomBytes } from 'node:crypto'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep, isAbsolute } from 'node:path'

export interface OutputLocation {
  /** Repository owner (`unknown` for pull-based projects); stored percent-encoded like quote_plus. */
  owner: string
  repo: string
  /** Branch; a `/` in it makes nested directories, as in buildbot-nix. */
  branch: string
  attr: string
}

/** Python's `urllib.parse.quote_plus` (safe chars: letters, digits, `_.-~`; space as `+`). */
export function quotePlus(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+')
}

/**
 * The file holding the latest out path: `<outputsPath>/<quote_plus(owner)>/<repo>/<branch>/<attr>`.
 * Throws when a component is empty, `.`/`..`, contains NUL, or the result leaves `outputsPath`.
 */
export function outputPathFile(outputsPath: string, loc: OutputLocation): string {
  const parts = [quotePlus(loc.owner), loc.repo, loc.branch, loc.attr]
  for (const p of parts) {
    if (!p || p.includes('\0') || isAbsolute(p)) throw new Error(`unsafe output path component ${JSON.stringify(p)}`)
    for (const seg of p.split('/')) if (seg === '' || seg === '.' || seg === '..') throw new Error(`unsafe output path component ${JSON.stringify(p)}`)
  }
  if (loc.repo.includes('/') || loc.attr.includes('/')) throw new Error(`repo and attr may not contain '/': ${loc.repo} ${loc.attr}`)
  const base = resolve(outputsPath)
  const file = resolve(base, ...parts)
  const rel = relative(base, file)
  if (!rel || rel.startsWith('..' + sep) || rel === '..' || isAbsolute(rel)) throw new Error(`output path ${file} is outside ${base}`)
  return file
}

/** Writes `outPath` (atomically, by rename) as the latest output of the attribute. */
export async function writeOutputPath(outputsPath: string, loc: OutputLocation, outPath: string): Promise<string> {
  const file = outputPathFile(outputsPath, loc)
  await mkdir(dirname(file), { recursive: true })
  const tmp = join(dirname(file), `.${process.pid}.${randomBytes(6).toString("hex")}.tmp`)
  await writeFile(tmp, outPath)
  await rename(tmp, file)
  return file
}
