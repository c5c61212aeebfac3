import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { ContextConsumer } from '@lit/context'
import { apiContext } from '../api/context.ts'
import { ApiClient } from '../api/api-client.ts'
import { parseLogChunk, type LogLine } from './log-lines.ts'

type Host = ReactiveControllerHost & HTMLElement

export interface LogEntity {
  logid: number
  name: string
  slug: string
  stepid: number
  complete: boolean
  num_lines: number
  type: string
}

/**
 * Loads one log: its entity (from a REST path such as `builds/5/steps/2/logs/stdio`), then its
 * lines, and follows `logs/<logid>/*`: on `append` it fetches `contents?offset=<lines it has>`.
 */
export class LogController implements ReactiveController {
  log: LogEntity | null = null
  lines: LogLine[] = []
  error: string | null = null
  loading = false
  private path: string | null = null
  private generation = 0
  private stopFns: (() => void)[] = []
  private fetching: Promise<void> | null = null
  private again = false
  private connected = false
  private readonly consumer: ContextConsumer<typeof apiContext, Host>

  constructor(private readonly host: Host) {
    this.consumer = new ContextConsumer(host, { context: apiContext, callback: () => this.restart() })
    host.addController(this)
  }

  setPath(path: string | null): void {
    if (path === this.path) return
    this.path = path
    this.restart()
  }

  hostConnected(): void { this.connected = true; this.restart() }
  hostDisconnected(): void { this.connected = false; this.stop() }

  private stop(): void {
    this.generation++
    for (const fn of this.stopFns.splice(0)) fn()
  }

  private restart(): void {
    this.stop()
    this.log = null
    this.lines = []
    this.error = null
    const client = this.consumer.value
    if (!this.connected || !client || !this.path) return
    void this.start(client, this.path)
  }

  private async start(client: ApiClient, path: string): Promise<void> {
    const gen = ++this.generation
    this.loading = true
    this.host.requestUpdate()
    try {
      const res = await client.get(path)
      if (gen !== this.generation) return
      this.log = res.items[0] as unknown as LogEntity
      if (!this.log) throw new Error(`no log at ${path}`)
    } catch (err) {
      if (gen === this.generation) { this.error = (err as Error).message; this.loading = false; this.host.requestUpdate() }
      return
    }
    const logid = this.log.logid
    const sub = client.subscribe(`logs/${logid}/*`, (key, msg) => {
      if (gen !== this.generation) return
      this.log = { ...this.log!, ...(msg as LogEntity) }
      if (key.endsWith('/append') || key.endsWith('/finished')) void this.catchUp(client, gen)
      this.host.requestUpdate()
    })
    this.stopFns.push(sub.unsubscribe, client.ws.onReconnect(() => { void this.refreshEntity(client, gen) }))
    await ApiClient.settle(sub.ready)
    await this.catchUp(client, gen)
    this.loading = false
    this.host.requestUpdate()
  }

  /** After a reconnect: events were missed, so re-read `num_lines` before catching up. */
  private async refreshEntity(client: ApiClient, gen: number): Promise<void> {
    try {
      const res = await client.get(`logs/${this.log!.logid}`)
      if (gen !== this.generation || !res.items[0]) return
      this.log = { ...this.log!, ...(res.items[0] as unknown as LogEntity) }
    } catch { /* keep what we have; the next event catches up */ }
    await this.catchUp(client, gen)
  }

  /** Fetches the lines after those already loaded; calls made meanwhile coalesce into one more. */
  private async catchUp(client: ApiClient, gen: number): Promise<void> {
    if (this.fetching) { this.again = true; return this.fetching }
    this.fetching = (async () => {
      do {
        this.again = false
        const log = this.log!
        const offset = this.lines.length
        // Past the end the server answers 404; asking only when lines are known to exist
        // keeps the console clean.
        if (offset >= log.num_lines) break
        try {
          const res = await client.get(`logs/${log.logid}/contents?offset=${offset}`)
          if (gen !== this.generation) return
          const chunk = res.items[0] as { firstline: number; content: string } | undefined
          if (chunk && chunk.firstline === this.lines.length) {
            this.lines = this.lines.concat(parseLogChunk(chunk.content, log.type))
          }
        } catch (err) {
          // Past the end the server answers 404: nothing new yet.
          if ((err as { status?: number }).status !== 404 && gen === this.generation) this.error = (err as Error).message
        }
        this.host.requestUpdate()
      } while (this.again && gen === this.generation)
    })()
    try { await this.fetching } finally { this.fetching = null }
  }
}
