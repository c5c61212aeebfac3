/**
 * One line of `nix build --log-format internal-json` as the build batcher uses it. Lines
 * without the `@nix ` prefix are plain output; a line that is not what nix prints (not JSON, not
 * an object, fields of other types) is `ignored`, never an exception.
 */
export type InternalJsonLine =
  | { kind: 'text'; text: string }
  /** The activity counting builds started (type 104). */
  | { kind: 'buildsStart'; id: string }
  /** Progress of activity `id` (result type 105): `done` of `expected` finished, `failed` failed. */
  | { kind: 'progress'; id: string; done: number; expected: number; running: number; failed: number }
  /** A build activity started (type 105): its log lines carry `id`. */
  | { kind: 'buildStart'; id: string; drv: string; text: string }
  /** A build log line (result type 101) or a post-build hook line (107) of activity `id`. */
  | { kind: 'buildLine'; id: string; text: string }
  /** An error or warning (level 0 or 1), colours removed. */
  | { kind: 'message'; level: number; text: string }
  | { kind: 'ignored' }

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g
const IGNORED: InternalJsonLine = { kind: 'ignored' }

export function parseInternalJsonLine(line: string): InternalJsonLine {
  if (!line.startsWith('@nix ')) return { kind: 'text', text: line }
  let m: unknown
  try { m = JSON.parse(line.slice(5)) } catch { return IGNORED }
  if (!m || typeof m !== 'object' || Array.isArray(m)) return IGNORED
  const { action, id, type, fields, text, msg, level } = m as Record<string, unknown>
  const first = Array.isArray(fields) ? fields[0] : undefined
  if (action === 'start' && type === 105 && typeof first === 'string') {
    return { kind: 'buildStart', id: String(id), drv: first, text: typeof text === 'string' ? text : `building '${first}'` }
  }
  if (action === 'start' && type === 104) return { kind: 'buildsStart', id: String(id) }
  if (action === 'result' && (type === 101 || type === 107) && typeof first === 'string') return { kind: 'buildLine', id: String(id), text: first }
  if (action === 'result' && type === 105 && Array.isArray(fields) && fields.length >= 4 && fields.slice(0, 4).every((f) => typeof f === 'number' && Number.isSafeInteger(f) && f >= 0)) {
    const [done, expected, running, failed] = fields as number[]
    return { kind: 'progress', id: String(id), done: done!, expected: expected!, running: running!, failed: failed! }
  }
  if (action === 'msg' && typeof msg === 'string') {
    const lvl = typeof level === 'number' ? level : 9
    if (lvl <= 1) return { kind: 'message', level: lvl, text: msg.replace(ANSI, '') }
  }
  return IGNORED
}
