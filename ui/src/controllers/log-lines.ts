export interface LogLine {
  /** Stream char of stdio logs: `o` stdout, `e` stderr, `h` header, `i` stdin; '' for text logs. */
  stream: string
  text: string
}

/** Splits a logchunk's `content` into lines; stdio lines lose their one-char stream prefix. */
export function parseLogChunk(content: string, type: string): LogLine[] {
  if (!content) return []
  const raw = content.endsWith('\n') ? content.slice(0, -1) : content
  return raw.split('\n').map((line) => type === 's'
    ? { stream: line.charAt(0), text: line.slice(1) }
    : { stream: '', text: line })
}
