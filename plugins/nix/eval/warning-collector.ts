/**
 * Groups nix's stderr into warnings: a line with `warning:` (this covers `evaluation warning:`)
 * starts one and the indented lines after it belong to it. The same text is reported once, since
 * parallel evaluator processes print the same warnings.
 */
export interface WarningCollector {
  push(line: string): void
  /** Reports the warning still being collected; call when a process ends. */
  flush(): void
  readonly count: number
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g

export function createWarningCollector(onWarning: ((text: string) => void) | undefined): WarningCollector {
  const seen = new Set<string>()
  let current: string[] | undefined
  const flush = (): void => {
    if (!current) return
    const text = current.join('\n')
    current = undefined
    if (seen.has(text)) return
    seen.add(text)
    onWarning?.(text)
  }
  return {
    push(raw: string) {
      const line = raw.replace(ANSI, '')
      if (/(^|\s)(evaluation )?warning:/.test(line)) { flush(); current = [line]; return }
      if (current && /^\s+\S/.test(line)) { current.push(line); return }
      flush()
    },
    flush,
    get count() { return seen.size },
  }
}
