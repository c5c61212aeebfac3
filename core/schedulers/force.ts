import { optionsFingerprint } from './options-fingerprint.ts'
import { ForceValidationError } from '../http/master-surface.ts'
import type { BaseSchedulerOptions, SchedulerServices, SchedulerSpec } from './scheduler.ts'
import { parseForceValue, type ForceParameter } from './force-parameters.ts'
import type { AddedBuildset } from '../data/buildsets.ts'
import { INT32_MAX, INT32_MIN, parseIntId } from '../util/int-range.ts'

/** The fields of the force form every scheduler has (besides its typed `params`). */
const FORM_FIELDS = ['reason', 'username', 'priority', 'branch', 'revision', 'repository', 'project']
const isScalar = (v: unknown) => v == null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
/** A form value as the UI sends it: a scalar, or a list of scalars (multiple-choice fields). */
const isFormValue = (v: unknown) => isScalar(v) || (Array.isArray(v) && v.every(isScalar))

export interface ForceSchedulerOptions extends BaseSchedulerOptions {
  label?: string
  buttonName?: string
  /** Typed user properties on the force form. */
  params?: Record<string, ForceParameter>
  /** Defaults for the source stamp fields. */
  codebase?: { branch?: string; revision?: string; repository?: string; project?: string }
  reasonString?: string
}

export interface ForceRuntime {
  force(params: Record<string, unknown>, owner: string): Promise<AddedBuildset>
}

/**
 * A scheduler that builds on demand (UI or JSON-RPC `force`), with typed parameters. Forced
 * buildsets are trusted: the user was authorised to force.
 */
export function force(opts: ForceSchedulerOptions): SchedulerSpec & { readonly force: ForceSchedulerOptions } {
  return {
    kind: 'scheduler', type: 'force', name: opts.name, builderNames: opts.builderNames, priority: opts.priority, properties: opts.properties,
    force: opts,
    fingerprint: { options: optionsFingerprint(opts), type: 'force', builderNames: opts.builderNames, params: Object.keys(opts.params ?? {}), codebase: opts.codebase ?? {} },
    create(s: SchedulerServices) {
      const rt: ForceRuntime & { start(): void; stop(): void } = {
        start() {},
        stop() {},
        async force(params, owner) {
          const errors: Record<string, string> = {}
          const props: Record<string, unknown> = { ...(opts.properties ?? {}) }
          for (const [name, p] of Object.entries(opts.params ?? {})) {
            try { props[name] = parseForceValue(name, p, params[name]) } catch (e) { errors[name] = (e as Error).message }
          }
          for (const k of [...FORM_FIELDS, ...Object.keys(opts.params ?? {})]) {
            if (!isFormValue(params[k])) errors[k] = `'${k}' must be a string, number or boolean, or a list of them`
          }
          const rawPrio = Array.isArray(params.priority) ? params.priority[0] : params.priority
          const prio = rawPrio == null || rawPrio === '' ? (opts.priority ?? 0) : parseIntId(rawPrio)
          if (prio == null) errors.priority = `'priority' must be an integer from ${INT32_MIN} to ${INT32_MAX}`
          if (Object.keys(errors).length || prio == null) throw new ForceValidationError(errors)
          const str = (k: string) => { const v = params[k] ?? params[`_${k}`]; const x = Array.isArray(v) ? v[0] : v; return x == null || x === '' ? undefined : String(x) }
          const cb = opts.codebase ?? {}
          const reason = str('reason') ?? 'force build'
          const who = owner && owner !== 'anonymous' ? owner : (str('username') ?? 'anonymous')
          props.owner = who
          props.reason = reason
          let builderNames = opts.builderNames
          const wanted = params.builderNames as string[] | undefined
          if (Array.isArray(wanted) && wanted.length) {
            if (wanted.some((n) => !opts.builderNames.includes(n))) throw new Error('builderNames not specified or not supported')
            builderNames = wanted
          }
          return s.addBuildset({
            builderNames, propertySource: 'Force Build Form', properties: props, priority: prio, trusted: true,
            reason: (opts.reasonString ?? "A build was forced by '%(owner)s': %(reason)s").replace('%(owner)s', who).replace('%(reason)s', reason),
            sourcestamps: [{ branch: str('branch') ?? cb.branch ?? null, revision: str('revision') ?? cb.revision ?? null, repository: str('repository') ?? cb.repository ?? '', project: str('project') ?? cb.project ?? '', codebase: '' }],
          })
        },
      }
      return rt
    },
  }
}
