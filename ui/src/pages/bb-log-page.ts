import { LitElement, html, nothing } from 'lit'
import { ContextConsumer } from '@lit/context'
import { apiContext } from '../api/context.ts'
import { LogController } from '../controllers/log-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { routeHref, type Route } from '../router/route.ts'
import '../components/bb-log-viewer.ts'

type LogRoute = Extract<Route, { name: 'log' }>

/** A log of a step, live while the step runs (`#/builds/5/steps/2/logs/stdio?line=12`). */
export class BbLogPage extends LitElement {
  static override properties = { route: { attribute: false } }
  static override styles = [sharedStyles]
  declare route: LogRoute
  private readonly log = new LogController(this)
  private readonly api = new ContextConsumer(this, { context: apiContext })

  override willUpdate(): void {
    const r = this.route
    this.log.setPath(`${r.buildPath}/steps/${encodeURIComponent(r.step)}/logs/${encodeURIComponent(r.slug)}`)
  }

  override render() {
    const r = this.route
    const log = this.log.log
    const base = routeHref({ ...r, line: null })
    return html`
      <nav aria-label="Breadcrumb"><a href="#/${r.buildPath}">Build</a> / step ${r.step} /</nav>
      <h1>Log ${log?.name ?? r.slug}</h1>
      ${this.log.error ? html`<p class="error" role="alert">${this.log.error}</p>` : nothing}
      ${this.log.loading && !log ? html`<p class="muted">Loading…</p>` : nothing}
      ${log ? html`<bb-log-viewer .lines=${this.log.lines} .log=${log} .line=${r.line}
        hrefBase=${base} rawUrl=${this.api.value?.url(`logs/${log.logid}/raw`) ?? ''}></bb-log-viewer>` : nothing}`
  }
}

customElements.define('bb-log-page', BbLogPage)
