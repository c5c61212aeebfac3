/** Splits a stream of text chunks into lines, keeping a partial last line for the next chunk. */
export interface LineSplitter {
  /** Returns the complete lines in `chunk` (without `\n`, `\r\n` trimmed). */
  push(chunk: string): string[]
  /** Returns the remaining partial line, if any. */
  end(): string[]
}

export function createLineSplitter(): LineSplitter {
  let rest = ''
  const strip = (l: string): string => (l.endsWith('\r') ? l.slice(0, -1) : l)
  return {
    push(chunk) {
      const parts = (rest + chunk).split('\n')
      rest = parts.pop()!
      return parts.map(strip)
    },
    end() {
      const last = rest
      rest = ''
      return last ? [strip(last)] : []
    },
  }
}
