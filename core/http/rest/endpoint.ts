import type { Kysely } from 'kysely'
import type { Database } from '../../db/schema.ts'
import type { Dialect } from '../../db/connect.ts'
import type { HttpSurface } from '../master-surface.ts'
import type { PathArgs } from '../path-match.ts'
import type { ResourceType, ResultSpec } from '../result-spec.ts'
import { applyInMemory } from '../result-spec.ts'

export type Entity = Record<string, unknown>

export interface ReadCtx {
  surface: HttpSurface
  k: Kysely<Database>
  dialect: Dialect
  args: PathArgs
  spec: ResultSpec
}

/** A collection page; `rest` is what the endpoint could not push into SQL (applied by the caller). */
export interface Page { items: Entity[]; total: number; rest?: Pick<ResultSpec, 'filters' | 'order' | 'limit' | 'offset'> }
export interface RawBody { body: string; mime: string; filename?: string }

export type EndpointDef =
  | { kind: 'collection'; patterns: string[]; type: ResourceType; get(ctx: ReadCtx): Promise<Page> }
  | { kind: 'single'; patterns: string[]; type: ResourceType; get(ctx: ReadCtx): Promise<Entity | undefined> }
  | { kind: 'raw' | 'raw_inline'; patterns: string[]; type: ResourceType; get(ctx: ReadCtx): Promise<RawBody | undefined> }

/** A collection computed in memory: everything the spec asks is applied here. */
export function memoryPage(items: Entity[], spec: ResultSpec): Page {
  return { ...applyInMemory(items, spec), rest: undefined }
}

export const num = (v: string | number | undefined): number => Number(v)
