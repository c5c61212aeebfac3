import { optionsFingerprint } from './options-fingerprint.ts'
import type { BaseSchedulerOptions, SchedulerSpec } from './scheduler.ts'

/**
 * A scheduler only Trigger steps fire; its builders get the triggering build's properties and
 * its trust (a `trusted` option here has no effect).
 */
export function triggerable(opts: BaseSchedulerOptions): SchedulerSpec {
  return {
    kind: 'scheduler', type: 'triggerable', name: opts.name, builderNames: opts.builderNames, priority: opts.priority, properties: opts.properties,
    fingerprint: { options: optionsFingerprint(opts), type: 'triggerable', builderNames: opts.builderNames },
    create() { return { start() {}, stop() {} } },
  }
}
