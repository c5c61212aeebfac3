import type { DataContext } from './context.ts'

/**
 * How long a handled delivery id is remembered: a forge redelivers within minutes on its own, and
 * by hand from its list of recent deliveries (GitHub keeps three days of them).
 */
export const DELIVERY_KEEP_MS = 7 * 24 * 3600_000

/** Webhook deliveries change hooks handled, per hook (`github`, `gitea`, ...), kept `DELIVERY_KEEP_MS`. */
export function createDeliveriesData(ctx: DataContext, nowMs: () => number = Date.now) {
  const { db } = ctx
  return {
    /** Whether this hook handled the delivery id within the kept time. */
    async handled(hook: string, delivery: string): Promise<boolean> {
      const row = await db.k.selectFrom('change_hook_deliveries').select('at_ms').where('hook', '=', hook).where('delivery', '=', delivery)
        .where('at_ms', '>=', nowMs() - DELIVERY_KEEP_MS).executeTakeFirst()
      return row != null
    },
    /** Records a handled delivery; ids older than the kept time go at the same time. */
    async record(hook: string, delivery: string): Promise<void> {
      const now = nowMs()
      await db.k.deleteFrom('change_hook_deliveries').where('at_ms', '<', now - DELIVERY_KEEP_MS).execute()
      await db.k.insertInto('change_hook_deliveries').values({ hook, delivery, at_ms: now })
        .onConflict((oc) => oc.columns(['hook', 'delivery']).doUpdateSet({ at_ms: now })).execute()
    },
  }
}
