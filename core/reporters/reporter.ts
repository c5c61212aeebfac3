import type { Bus } from '../bus/bus.ts'
import type { Data } from '../data/data.ts'
import type { Logger } from '../util/logger.ts'

export interface ReporterServices { data: Data; bus: Bus; log: Logger; buildbotURL: string; secret(name: string): Promise<string>; signal: AbortSignal }
export interface ReporterRuntime { start(): Promise<void> | void; stop(): Promise<void> | void }
/** A service that listens to the bus (statuses, notifications). Reporters never write build state. */
export interface ReporterSpec {
  readonly kind: 'reporter'
  readonly type: string
  readonly name: string
  readonly fingerprint: unknown
  create(services: ReporterServices): ReporterRuntime
}
