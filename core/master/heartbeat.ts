import type { Data } from '../data/data.ts'
import type { Logger } from '../util/logger.ts'

const HEARTBEAT_MS = 60_000
const MASTER_EXPIRY_S = 180

/**
 * Buildbot's heartbeat: this master reports every minute; masters silent for 3 minutes are dead,
 * so their interrupted builds end in RETRY and their requests are queued again.
 */
export function createHeartbeat(deps: { data: () => Data; log: Logger }) {
  let timer: NodeJS.Timeout | undefined
  async function expireDeadMasters(): Promise<void> {
    for (const r of await deps.data().expireMasters(MASTER_EXPIRY_S)) {
      deps.log.warn(r, 'a master stopped reporting; its interrupted builds are marked RETRY and its requests queued again')
    }
  }
  return {
    expireDeadMasters,
    start(): void {
      timer = setInterval(() => {
        const data = deps.data()
        void data.masters.touch(data.masterid).then(expireDeadMasters).catch((err) => deps.log.error({ err: String(err) }, 'master heartbeat failed'))
      }, HEARTBEAT_MS)
      timer.unref()
    },
    stop(): void { if (timer) clearInterval(timer); timer = undefined },
  }
}

export type Heartbeat = ReturnType<typeof createHeartbeat>
