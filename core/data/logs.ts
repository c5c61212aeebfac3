import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { Selectable } from 'kysely'
import type { LogsTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'
import { bool } from './context.ts'

export interface LogEntity { logid: number; name: string; slug: string; stepid: number; complete: boolean; num_lines: number; type: string }
export const toLog = (r: Selectable<LogsTable>): LogEntity => ({
  logid: r.logid, name: r.name, slug: r.slug, stepid: r.stepid, complete: bool(r.complete), num_lines: r.num_lines, type: r.type,
})

/** Chunks above this size are stored deflated. */
const COMPRESS_ABOVE = 512

export function logSlug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 50) || 'log'
}

export function createLogsData(ctx: DataContext) {
  const { db, bus } = ctx
  const live = new Map<number, Selectable<LogsTable>>()
  const publish = (r: Selectable<LogsTable>, event: string) => {
    const e = toLog(r)
    bus.publish(['logs', String(r.logid), event], e)
    bus.publish(['steps', String(r.stepid), 'logs', r.slug, event], e)
  }

  return {
    async addLog(stepid: number, name: string, type: 's' | 't' | 'h'): Promise<LogEntity> {
      const insert = (slug: string) => db.k.insertInto('logs').values({ name, slug, stepid, complete: 0, num_lines: 0, type })
        .onConflict((oc) => oc.columns(['stepid', 'slug']).doNothing()).returningAll().executeTakeFirst()
      // The slug is free unless the step already has a log of that name: look the others up only then.
      let row = await insert(logSlug(name))
      if (!row) {
        const taken = new Set((await db.k.selectFrom('logs').select('slug').where('stepid', '=', stepid).execute()).map((r) => r.slug))
        let slug = logSlug(name)
        for (let i = 2; taken.has(slug); i++) slug = `${logSlug(name).slice(0, 45)}_${i}`
        row = await insert(slug)
        if (!row) throw new Error(`log slug '${slug}' of step ${stepid} was taken concurrently`)
      }
      live.set(row.logid, row)
      publish(row, 'new')
      return toLog(row)
    },
    /** Appends whole lines (`content` ends with `\n`; stdio lines carry their stream prefix). */
    async appendLog(logid: number, content: string): Promise<void> {
      if (!content) return
      const row = live.get(logid) ?? await db.k.selectFrom('logs').selectAll().where('logid', '=', logid).executeTakeFirstOrThrow()
      let lines = 0
      for (let i = content.indexOf('\n'); i !== -1; i = content.indexOf('\n', i + 1)) lines++
      if (!lines) return
      const first_line = row.num_lines
      const raw = Buffer.from(content, 'utf8')
      const compressed = raw.length > COMPRESS_ABOVE
      await db.k.insertInto('logchunks').values({
        logid, first_line, last_line: first_line + lines - 1, content: compressed ? deflateRawSync(raw) : raw, compressed: compressed ? 1 : 0,
      }).execute()
      row.num_lines += lines
      await db.k.updateTable('logs').set({ num_lines: row.num_lines }).where('logid', '=', logid).execute()
      publish(row, 'append')
    },
    async finishLog(logid: number): Promise<void> {
      await db.k.updateTable('logs').set({ complete: 1 }).where('logid', '=', logid).execute()
      const row = live.get(logid) ?? await db.k.selectFrom('logs').selectAll().where('logid', '=', logid).executeTakeFirst()
      live.delete(logid)
      if (!row) return
      row.complete = 1
      publish(row, 'finished')
    },
    /** Lines `first..last` (inclusive, 0-based) as one string of `\n`-terminated lines. */
    async getLogLines(logid: number, first: number, last: number): Promise<string> {
      const chunks = await db.k.selectFrom('logchunks').selectAll().where('logid', '=', logid)
        .where('last_line', '>=', first).where('first_line', '<=', last).orderBy('first_line').execute()
      let out = ''
      for (const c of chunks) {
        const buf = Buffer.from(c.content)
        const text = (c.compressed ? inflateRawSync(buf) : buf).toString('utf8')
        let lineNo = c.first_line
        let start = 0
        for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', start)) {
          if (lineNo >= first && lineNo <= last) out += text.slice(start, i + 1)
          lineNo++
          start = i + 1
        }
      }
      return out
    },
  }
}
