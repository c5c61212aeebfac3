import type { Generated } from 'kysely'

/**
 * Row types of every table. Booleans are stored as 0/1 integers and JSON as text in both
 * sqlite and PostgreSQL so that one query shape serves both dialects.
 */
export interface MastersTable { masterid: Generated<number>; name: string; active: number; last_active: number }
export interface WorkersTable { workerid: Generated<number>; name: string; info: string; paused: number; pause_reason: string | null; graceful: number }
export interface ConnectedWorkersTable { id: Generated<number>; masterid: number; workerid: number }
export interface ConfiguredWorkersTable { id: Generated<number>; masterid: number; builderid: number; workerid: number }
export interface BuildersTable { builderid: Generated<number>; name: string; description: string | null; projectid: number | null; tags: string }
export interface BuilderMastersTable { id: Generated<number>; builderid: number; masterid: number }
export interface ProjectsTable {
  projectid: Generated<number>; name: string; slug: string; description: string | null; description_format: string | null; description_html: string | null
  forge: string | null; clone_url: string | null; default_branch: string | null; owner: string | null; web_url: string | null; source: string | null
  private: Generated<number>; branches: Generated<string>; poll_interval: number | null; registered: Generated<number>
}
export interface ChangesTable {
  changeid: Generated<number>; author: string; committer: string | null; comments: string; branch: string | null
  revision: string | null; revlink: string | null; when_timestamp: number; category: string | null
  repository: string; codebase: string; project: string; sourcestampid: number
  parent_changeids: string; files: string; properties: string
  /** 1 when the code that added the change vouched for it (a forge plugin for a pull request). */
  trusted: Generated<number>
}
export interface SourcestampsTable {
  ssid: Generated<number>; ss_hash: string; branch: string | null; revision: string | null; repository: string
  codebase: string; project: string; created_at: number; patch: string | null
}
export interface BuildsetsTable {
  bsid: Generated<number>; external_idstring: string | null; reason: string; submitted_at: number; complete: number
  complete_at: number | null; results: number; parent_buildid: number | null; parent_relationship: string | null
  rebuilt_buildid: number | null; scheduler: string | null; properties: string
  /** 1 when the buildset's builds may read secrets. */
  trusted: Generated<number>
}
export interface BuildsetSourcestampsTable { id: Generated<number>; buildsetid: number; sourcestampid: number }
export interface BuildrequestsTable {
  buildrequestid: Generated<number>; buildsetid: number; builderid: number; priority: number; complete: number
  results: number; submitted_at: number; complete_at: number | null; waited_for: number
}
export interface BuildrequestClaimsTable { brid: number; masterid: number; claimed_at: number }
export interface BuildsTable {
  buildid: Generated<number>; number: number; builderid: number; buildrequestid: number; workerid: number | null
  masterid: number; started_at: number; complete_at: number | null; state_string: string; results: number | null
  properties: string
}
export interface StepsTable {
  stepid: Generated<number>; number: number; name: string; buildid: number; started_at: number | null
  complete_at: number | null; state_string: string; results: number | null; urls: string; hidden: number
}
export interface LogsTable { logid: Generated<number>; name: string; slug: string; stepid: number; complete: number; num_lines: number; type: string }
export interface LogchunksTable { logid: number; first_line: number; last_line: number; content: Uint8Array; compressed: number }
export interface SchedulersTable { schedulerid: Generated<number>; name: string; enabled: number }
export interface SchedulerMastersTable { schedulerid: number; masterid: number }
export interface SchedulerChangesTable { schedulerid: number; changeid: number; important: number }
export interface ChangesourcesTable { changesourceid: Generated<number>; name: string }
export interface ChangesourceMastersTable { changesourceid: number; masterid: number }
export interface ObjectsTable { objectid: Generated<number>; name: string; class_name: string }
export interface ObjectStateTable { objectid: number; name: string; value_json: string }
export interface StatusOutboxTable {
  id: Generated<number>; reporter: string; repository: string; revision: string; context: string; state: string
  description: string | null; target_url: string | null; extra: string; queued_at_ms: number; sent_at_ms: number | null
  attempts: number; next_attempt_ms: number; last_error: string | null; failed: number; masterid: number | null
}
export interface SchemaVersionTable { version: number }
export interface BusEventsTable { id: Generated<number>; masterid: number; key: string; payload: string; at_ms: number }
export interface UnclaimedChangesTable { changeid: number; at_ms: number }
export interface ChangeHookDeliveriesTable { hook: string; delivery: string; at_ms: number }

export interface Database {
  masters: MastersTable
  workers: WorkersTable
  connected_workers: ConnectedWorkersTable
  configured_workers: ConfiguredWorkersTable
  builders: BuildersTable
  builder_masters: BuilderMastersTable
  projects: ProjectsTable
  changes: ChangesTable
  sourcestamps: SourcestampsTable
  buildsets: BuildsetsTable
  buildset_sourcestamps: BuildsetSourcestampsTable
  buildrequests: BuildrequestsTable
  buildrequest_claims: BuildrequestClaimsTable
  builds: BuildsTable
  steps: StepsTable
  logs: LogsTable
  logchunks: LogchunksTable
  schedulers: SchedulersTable
  scheduler_masters: SchedulerMastersTable
  scheduler_changes: SchedulerChangesTable
  changesources: ChangesourcesTable
  changesource_masters: ChangesourceMastersTable
  objects: ObjectsTable
  object_state: ObjectStateTable
  status_outbox: StatusOutboxTable
  schema_version: SchemaVersionTable
  bus_events: BusEventsTable
  unclaimed_changes: UnclaimedChangesTable
  change_hook_deliveries: ChangeHookDeliveriesTable
}
