import type { ForceFieldSpec } from '../http/master-surface.ts'

/** A typed force-form field. `parse` turns the submitted value into the property value or throws a message. */
export interface ForceParameter {
  readonly type: 'text' | 'int' | 'bool' | 'choice' | 'fixed'
  readonly label?: string
  readonly default?: unknown
  readonly required?: boolean
  readonly choices?: string[]
  readonly regex?: RegExp
  readonly tooltip?: string
}

const field = (type: ForceParameter['type'], o: Omit<ForceParameter, 'type'>): ForceParameter => ({ type, ...o })
export const forceParams = {
  text: (o: Omit<ForceParameter, 'type' | 'choices'> = {}) => field('text', o),
  int: (o: Omit<ForceParameter, 'type' | 'choices' | 'regex'> = {}) => field('int', o),
  bool: (o: Omit<ForceParameter, 'type' | 'choices' | 'regex'> = {}) => field('bool', o),
  choice: (o: Omit<ForceParameter, 'type' | 'regex'> & { choices: string[] }) => field('choice', o),
  fixed: (o: { default: unknown; label?: string }) => field('fixed', o),
}

export function parseForceValue(name: string, p: ForceParameter, raw: unknown): unknown {
  const v = Array.isArray(raw) ? raw[0] : raw
  if (v === undefined || v === null || v === '') {
    if (p.required) throw new Error(`'${name}' is required`)
    return p.default ?? (p.type === 'int' ? 0 : p.type === 'bool' ? false : '')
  }
  switch (p.type) {
    case 'int': {
      const n = typeof v === 'number' ? v : Number(String(v).trim())
      if (!Number.isInteger(n)) throw new Error(`'${name}' must be an integer, got ${JSON.stringify(v)}`)
      return n
    }
    case 'bool': return v === true || /^(true|1|yes|on)$/i.test(String(v))
    case 'choice':
      if (!p.choices!.includes(String(v))) throw new Error(`'${name}' must be one of ${p.choices!.join(', ')}`)
      return String(v)
    case 'fixed': return p.default
    default:
      if (p.regex && !p.regex.test(String(v))) throw new Error(`'${name}' does not match ${p.regex}`)
      return String(v)
  }
}

const base = (name: string, fullName: string | null, label: string, type: string, def: unknown, extra: Partial<ForceFieldSpec> = {}): ForceFieldSpec => ({
  name, fullName, label, tablabel: label, type, default: def, required: false, multiple: false, regex: null, hide: false,
  maxsize: null, autopopulate: null, tooltip: '', ...extra,
})

/** The `all_fields` layout Buildbot's UI expects: an anonymous group, a codebase group, then properties. */
export function forceFieldSpecs(params: Record<string, ForceParameter>): ForceFieldSpec[] {
  const user = Object.entries(params).map(([name, p]) => base(name, name, p.label ?? name, p.type === 'choice' ? 'list' : p.type, p.default ?? (p.type === 'int' ? 0 : p.type === 'bool' ? false : ''),
    { required: !!p.required, tooltip: p.tooltip ?? '', ...(p.choices ? { choices: p.choices, strict: true } : {}), ...(p.type === 'text' ? { size: 10 } : {}) }))
  return [
    base('', null, '', 'nested', '', {
      layout: 'vertical', columns: 1,
      fields: [base('username', 'username', 'Your name:', 'username', '', { need_email: false, size: 30 }), base('reason', 'reason', 'reason', 'text', 'force build', { size: 20 }), base('priority', 'priority', 'priority', 'int', 0)],
    }),
    base('', '', '', 'nested', '', {
      layout: 'vertical', columns: 1,
      fields: ['branch', 'project', 'repository', 'revision'].map((n) => base(n, n, n, 'text', '', { size: 10 })),
    }),
    ...user,
  ]
}
