import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { parseRoute, type Route } from './route.ts'

/**
 * The current route from `location.hash`. Back/forward work because every navigation is a hash
 * change the browser records; the controller only listens.
 */
export class RouterController implements ReactiveController {
  route: Route
  private readonly onChange = () => {
    this.route = parseRoute(location.hash)
    this.host.requestUpdate()
  }

  constructor(private readonly host: ReactiveControllerHost) {
    this.route = parseRoute(location.hash)
    host.addController(this)
  }

  hostConnected(): void {
    window.addEventListener('hashchange', this.onChange)
    this.onChange()
  }

  hostDisconnected(): void {
    window.removeEventListener('hashchange', this.onChange)
  }
}
