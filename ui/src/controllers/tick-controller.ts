import type { ReactiveController, ReactiveControllerHost } from 'lit'

/**
 * Re-renders its host once a second while `active()` holds (a running build's duration, "5s
 * ago"): the clock moves even when no event arrives. Stops with the host.
 */
export class TickController implements ReactiveController {
  private timer: ReturnType<typeof setInterval> | null = null

  constructor(private readonly host: ReactiveControllerHost, private readonly active: () => boolean, private readonly everyMs = 1000) {
    host.addController(this)
  }

  hostConnected(): void {
    this.timer ??= setInterval(() => { if (this.active()) this.host.requestUpdate() }, this.everyMs)
  }

  hostDisconnected(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}
