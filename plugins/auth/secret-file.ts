import { readFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'

/** Reads a secret file (trailing newline dropped); the error names the option and the path. */
export function secretFile(basedir: string, path: string, option: string): () => Promise<string> {
  const full = isAbsolute(path) ? path : join(basedir, path)
  return async () => {
    let text
    try { text = await readFile(full, 'utf8') } catch (err) {
      throw new Error(`${option}: cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    }
    const v = text.replace(/\r?\n$/, '')
    if (!v) throw new Error(`${option}: ${full} is empty`)
    return v
  }
}
