import { z } from 'zod'
import type { ConfigErrors } from './errors.ts'
import { didYouMean } from './errors.ts'

type RawIssue = z.core.$ZodRawIssue

const article = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`)

/** `string`, `number`, `array`, `null`, `function`, … as users write them. */
export function typeName(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN'
  return typeof v
}

const show = (v: unknown): string => {
  if (typeof v === 'function') return 'a function'
  if (typeof v === 'string') return `'${v}'`
  try { return JSON.stringify(v) ?? String(v) } catch { return String(v) }
}

/** The `examples` a schema's meta gives, as a fix hint. */
function example(inst: unknown): string {
  const meta = inst ? z.globalRegistry.get(inst as z.ZodType) : undefined
  const ex = (meta?.examples as unknown[] | undefined)?.[0]
  return ex === undefined ? '' : ` (e.g. ${show(ex)})`
}

const expectedName = (expected: string): string =>
  expected === 'boolean' ? 'true or false' : expected === 'record' ? 'an object' : expected === 'never' ? 'absent' : article(expected)

/**
 * The message of one schema issue, worded for a config author: what is wrong, what was given and,
 * where the schema knows it, an example of a good value. Unknown keys become one line per key
 * (`<key>\t<message>`), each with the closest known key.
 */
export function issueMessage(iss: RawIssue): string | undefined {
  const input = (iss as { input?: unknown }).input
  switch (iss.code) {
    case 'invalid_type': {
      if (input === undefined) return `missing; it must be ${expectedName(iss.expected)}${example(iss.inst)}`
      return `must be ${expectedName(iss.expected)}, got ${typeName(input)}${example(iss.inst)}`
    }
    case 'unrecognized_keys': {
      const known = Object.keys((iss.inst as { shape?: Record<string, unknown> } | undefined)?.shape ?? {}).filter((k) => !k.startsWith('__'))
      return iss.keys.map((k) => `${k}\tunknown key '${k}'${didYouMean(k, known)}; remove it or fix its name`).join('\n')
    }
    case 'invalid_value':
      return `must be ${iss.values.length === 1 ? show(iss.values[0]) : `one of ${iss.values.map(show).join(', ')}`}, got ${show(input)}`
    case 'too_small': {
      const min = Number(iss.minimum)
      if (iss.origin === 'array' || iss.origin === 'set') return min === 1 ? `must not be empty${example(iss.inst)}` : `must have at least ${min} entries`
      if (iss.origin === 'string') return min === 1 ? 'must not be empty' : `must be at least ${min} characters long`
      return `must be ${iss.inclusive ? 'at least' : 'above'} ${min}, got ${show(input)}`
    }
    case 'too_big': {
      const max = Number(iss.maximum)
      if (iss.origin === 'array' || iss.origin === 'set') return `must have at most ${max} entries`
      if (iss.origin === 'string') return `must be at most ${max} characters long`
      return `must be ${iss.inclusive ? 'at most' : 'below'} ${max}, got ${show(input)}`
    }
    case 'not_multiple_of':
      return iss.divisor === 1 ? `must be a whole number, got ${show(input)}` : `must be a multiple of ${iss.divisor}, got ${show(input)}`
    case 'invalid_format':
      return `must be ${article(iss.format)}, got ${show(input)}`
    case 'invalid_union':
      return `must be ${iss.inst ? (z.globalRegistry.get(iss.inst as z.ZodType)?.description ?? 'one of the allowed forms') : 'one of the allowed forms'}, got ${typeName(input)}`
    default:
      return undefined
  }
}

/** A path as written in the config: `workers[2].password`, `www.port`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p)
  return out
}

const join = (prefix: string, rest: string) => (!prefix ? rest : !rest ? prefix : rest.startsWith('[') ? prefix + rest : `${prefix}.${rest}`)

/**
 * Parses `value` with `schema`, adding every issue to `errors` under `prefix` (key path), and
 * returns the parsed value, or undefined when there was any issue.
 */
export function checkWithSchema<S extends z.ZodType>(schema: S, value: unknown, prefix: string, errors: ConfigErrors, owner?: string): z.output<S> | undefined {
  const r = schema.safeParse(value, { error: issueMessage, reportInput: true })
  if (r.success) return r.data
  for (const iss of r.error.issues) {
    const at = join(prefix, formatPath(iss.path))
    if (iss.code === 'unrecognized_keys') {
      for (const line of iss.message.split('\n')) {
        const [key, msg] = line.split('\t')
        errors.add(join(at, key!), msg ?? line, owner)
      }
    } else errors.add(at, iss.message, owner)
  }
  return undefined
}

/** A value a function makes (`builder()`, `secret()`, a step, …): only what makes it is checked. */
export function madeBy<T>(check: (v: unknown) => boolean, message: string, description: string): z.ZodType<T> {
  return z.custom<T>((v) => check(v), { error: message }).meta({ description })
}
