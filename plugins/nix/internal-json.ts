/**
 * One line of `nix build --log-format internal-json -vvv` as the build batcher uses it. Lines
 * without the `@nix ` prefix are plain output; a line that is not what nix prints (not JSON, not
 * an object, fields of other types) is `ignored`, never an exception.
 */
export type InternalJsonLine =
  | { kind: 'text'; text: string }
  /** A goal's `done` trace (-vvv): nix is done with this derivation. */
  | { kind: 'goalDone'; drv: string }
  /** A build activity started (type 105): its log lines carry `id`. */
  | { kind: 'buildStart'; id: string; drv: string; text: string }
  /** A build log line (result type 101) or a post-build hook line (107) of activity `id`. */
  | { kind: 'buildLine'; id: string; text: string }
  /** An error or warning (level 0 or 1), colours removed. */
  | { kind: 'message'; level: number; text: string }
  | { kind: 'ignored' }

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g
const GOAL_DONE = /"msg":"building of '(\/nix\/store\/[0-9a-z]{32}-[^'!]+\.drv)![^']*' from \.drv file: done"/
const IGNORED: InternalJsonLine = { kind: 'ignored' }

export function parseInternalJsonLine(line: string): InternalJsonLine {
  if (!line.startsWith('@nix ')) return { kind: 'text', text: line }
  // Debug messages (-vvv) are many: only goals' `done` traces matter, read without JSON.parse.
  if (line.startsWith('@nix {"action":"msg","level":') && !line.startsWith('@nix {"action":"msg","level":0') && !line.startsWith('@nix {"action":"msg","level":1,')) {
    const done = GOAL_DONE.exec(line)
    return done ? { kind: 'goalDone', drv: done[1]! } : IGNORED
  }
  let m: unknown
  try { m = JSON.parse(line.slice(5)) } catch { return IGNORED }
  if (!m || typeof m !== 'object' || Array.isArray(m)) return IGNORED
  const { action, id, type, fields, text, msg, level } = m as Record<string, unknown>
  const first = Array.isArray(fields) ? fields[0] : undefined
  if (action === 'start' && type === 105 && typeof first === 'string') {
    return { kind: 'buildStart', id: String(id), drv: first, text: typeof text === 'string' ? text : `building '${first}'` }
  }
  if (action === 'result' && (type === 101 || type === 107) && typeof first === 'string') return { kind: 'buildLine', id: String(id), text: first }
  if (action === 'msg' && typeof msg === 'string') {
    const lvl = typeof level === 'number' ? level : 9
    if (lvl <= 1) return { kind: 'message', level: lvl, text: msg.replace(ANSI, '') }
  }
  return IGNORED
}
