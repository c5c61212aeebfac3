import type { Bus } from '../bus/bus.ts'
import type { Db } from '../db/connect.ts'

/** What every data-layer resource needs: the database, the bus and a clock. */
export interface DataContext {
  db: Db
  bus: Bus
  /** Epoch seconds (Buildbot's timestamp unit on the wire). */
  now(): number
  masterid: () => number
}

export const bool = (n: number | null | undefined): boolean => !!n
export const parseJson = <T>(s: string | null | undefined, fallback: T): T => {
  if (s == null) return fallback
  try { return JSON.parse(s) as T } catch { return fallback }
}

/** Publishes `message` under every key pattern, each followed by `event`. */
export function publishAll(bus: Bus, keys: string[][], event: string, message: unknown): void {
  for (const k of keys) bus.publish([...k, event], message)
}
