import { LitElement, html, nothing } from 'lit'
import { ContextConsumer } from '@lit/context'
import { apiContext, configContext } from '../api/context.ts'
import { permission, type Action } from '../api/frontend-config.ts'
import { sharedStyles } from './shared-styles.ts'

/**
 * A JSON-RPC action button (stop, rebuild, cancel, reload). Disabled with the reason when
 * `/config` `user_can` forbids it; a server refusal (403) is shown next to it.
 */
export class BbAction extends LitElement {
  static override properties = {
    label: {}, action: {}, path: {}, method: {}, params: { attribute: false }, doneText: {},
    busy: { state: true }, message: { state: true }, failed: { state: true },
  }
  static override styles = [sharedStyles]
  declare label: string
  declare action: Action
  declare path: string
  declare method: string
  declare params: Record<string, unknown>
  /** What the button says happened once the server answered (default `done`). */
  declare doneText: string
  declare busy: boolean
  declare message: string
  declare failed: boolean
  private readonly api = new ContextConsumer(this, { context: apiContext })
  private readonly config = new ContextConsumer(this, { context: configContext, subscribe: true })

  constructor() {
    super()
    this.params = {}
    this.busy = false
    this.message = ''
    this.failed = false
  }

  override render() {
    const perm = permission(this.config.value ?? {}, this.action)
    return html`<span class="row">
      <button type="button" ?disabled=${!perm.allowed || this.busy} title=${perm.reason ?? nothing}
        aria-label=${perm.reason ? `${this.label} (${perm.reason})` : this.label}
        @click=${this.run}>${this.label}</button>
      ${!perm.allowed ? html`<span class="muted">${perm.reason}</span>` : nothing}
      ${this.message ? html`<span class=${this.failed ? 'error' : 'muted'} role="alert">${this.message}</span>` : nothing}
    </span>`
  }

  private async run(): Promise<void> {
    const api = this.api.value
    if (!api) return
    this.busy = true
    this.message = ''
    try {
      const result = await api.control(this.path, this.method, this.params)
      this.failed = false
      this.message = this.doneText || 'done'
      this.dispatchEvent(new CustomEvent('action-done', { detail: result, bubbles: true, composed: true }))
    } catch (err) {
      this.failed = true
      this.message = (err as Error).message
    } finally {
      this.busy = false
    }
  }
}

customElements.define('bb-action', BbAction)
