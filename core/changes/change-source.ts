import type { GitAccess } from '../util/git-access.ts'
import type { Data } from '../data/data.ts'
import type { Logger } from '../util/logger.ts'
import type { ChangeEntity, ChangeSpec } from '../data/changes.ts'

export interface ChangeSourceServices {
  data: Data
  log: Logger
  /** Directory for the source's own files (mirrors). */
  workdir: string
  addChange(spec: ChangeSpec): Promise<ChangeEntity>
  getState<T>(name: string, fallback: T): Promise<T>
  setState(name: string, value: unknown): Promise<void>
  signal: AbortSignal
  /** Credentials for a git URL from the plugins' `addGitAccess` providers (environment for git). */
  gitAccess?(url: string): Promise<GitAccess | undefined>
}
export interface ChangeSourceRuntime { start(): Promise<void> | void; stop(): Promise<void> | void; poll?(): Promise<void> }
export interface ChangeSourceSpec {
  readonly kind: 'changesource'
  readonly type: string
  readonly name: string
  readonly fingerprint: unknown
  create(services: ChangeSourceServices): ChangeSourceRuntime
}
