import type { Data } from '../data/data.ts'
import type { Bus } from '../bus/bus.ts'
import type { Logger } from '../util/logger.ts'
import type { ChangeEntity } from '../data/changes.ts'
import type { SourceStampSpec } from '../data/sourcestamps.ts'
import type { AddedBuildset } from '../data/buildsets.ts'

/** What a running scheduler may use. */
export interface SchedulerServices {
  data: Data
  bus: Bus
  log: Logger
  schedulerid: number
  /** Adds a buildset for these builders (names), with `scheduler` set to this scheduler's name. */
  addBuildset(spec: {
    builderNames?: string[]; reason: string; sourcestamps: (SourceStampSpec | number)[]; properties?: Record<string, unknown>
    propertySource?: string; priority?: number; external_idstring?: string | null; rebuilt_buildid?: number | null
    /** Whether its builds may read secrets; default: the scheduler's `trusted` (itself default true). */
    trusted?: boolean
  }): Promise<AddedBuildset>
  enabled(): Promise<boolean>
}

export interface SchedulerRuntime {
  start(): Promise<void> | void
  stop(): Promise<void> | void
  /** Changes arrive here (only schedulers that want changes define it). */
  onChange?(change: ChangeEntity): Promise<void>
  /**
   * Whether this scheduler builds `change` (its change filter matches), asked without side
   * effects. A change no running scheduler wants is kept unclaimed for a while, and a scheduler
   * that starts later and wants it gets it (a webhook that came before its project's schedulers).
   * Without it, a scheduler with `onChange` counts as wanting every change.
   */
  wants?(change: ChangeEntity): boolean
}

/** A scheduler as configured. `create` runs when the master starts it. */
export interface SchedulerSpec {
  readonly kind: 'scheduler'
  readonly type: string
  readonly name: string
  readonly builderNames: string[]
  readonly priority?: number
  readonly properties?: Record<string, unknown>
  /**
   * Whether the buildsets it adds are trusted (may read secrets) unless it says otherwise per
   * buildset. Default true: schedulers in the master config are the operator's own.
   */
  readonly trusted?: boolean
  /** Plain data identifying the configuration (reconfigure restarts a scheduler when it changes). */
  readonly fingerprint: unknown
  create(services: SchedulerServices): SchedulerRuntime
}

export interface BaseSchedulerOptions {
  name: string
  builderNames: string[]
  properties?: Record<string, unknown>
  priority?: number
  /** Whether its builds may read secrets (default true: the operator configured this scheduler). */
  trusted?: boolean
}
