import { LitElement, html, css, nothing } from 'lit'
import { ContextConsumer } from '@lit/context'
import { apiContext, configContext } from '../api/context.ts'
import { permission, type Action } from '../api/frontend-config.ts'
import { followHref } from '../router/route.ts'
import { sharedStyles } from './shared-styles.ts'

/**
 * A JSON-RPC action button (stop, rebuild, cancel, reload). Disabled with the reason when
 * `/config` `user_can` forbids it; a server refusal (403) is shown next to it. With `confirm`, a
 * dialog asks for a reason (sent as `params.reason`) and a confirmation first; with `follow`, an
 * answer naming one new build request (force, rebuild) opens that request, which opens its build.
 */
export class BbAction extends LitElement {
  static override properties = {
    label: {}, action: {}, path: {}, method: {}, params: { attribute: false }, doneText: {}, confirm: {}, follow: { type: Boolean },
    busy: { state: true }, message: { state: true }, failed: { state: true }, asking: { state: true },
  }
  static override styles = [sharedStyles, css`
    dialog { border: 1px solid var(--border); border-radius: 6px; background: var(--panel); color: var(--fg); max-width: min(32rem, 92vw); }
    dialog::backdrop { background: rgb(0 0 0 / .35); }
    dialog input { width: 100%; box-sizing: border-box; margin: .4rem 0 .8rem; }
  `]
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
  /** The question of the confirmation dialog (`Stop soak #3?`); empty = no dialog. */
  declare confirm: string
  declare follow: boolean
  /** The confirmation dialog is open (it exists only then). */
  declare asking: boolean
  private readonly api = new ContextConsumer(this, { context: apiContext })
  private readonly config = new ContextConsumer(this, { context: configContext, subscribe: true })

  constructor() {
    super()
    this.params = {}
    this.busy = false
    this.message = ''
    this.failed = false
    this.confirm = ''
    this.follow = false
    this.asking = false
  }

  override render() {
    const perm = permission(this.config.value ?? {}, this.action)
    return html`<span class="row">
      <button type="button" ?disabled=${!perm.allowed || this.busy} title=${perm.reason ?? nothing}
        aria-label=${perm.reason ? `${this.label} (${perm.reason})` : this.label}
        @click=${this.confirm ? this.ask : () => this.run(this.params)}>${this.label}</button>
      ${!perm.allowed ? html`<span class="muted">${perm.reason}</span>` : nothing}
      ${this.message ? html`<span class=${this.failed ? 'error' : 'muted'} role="alert">${this.message}</span>` : nothing}
    </span>
    ${this.asking ? html`<dialog aria-label=${this.confirm} @close=${this.closed}>
      <form method="dialog">
        <p><strong>${this.confirm}</strong></p>
        <label for="reason">Reason</label>
        <input id="reason" name="reason" autocomplete="off" placeholder="why (shown on the build)">
        <div class="row"><button class="primary" value="confirm">${this.label}</button><button value="cancel" formnovalidate>Cancel</button></div>
      </form>
    </dialog>` : nothing}`
  }

  private async ask(): Promise<void> {
    this.asking = true
    await this.updateComplete
    this.renderRoot.querySelector('dialog')?.showModal()
  }

  private closed(ev: Event): void {
    const dialog = ev.currentTarget as HTMLDialogElement
    this.asking = false
    if (dialog.returnValue !== 'confirm') return
    const reason = (dialog.querySelector('input') as HTMLInputElement).value.trim()
    void this.run({ ...this.params, ...(reason ? { reason } : {}) })
  }

  private async run(params: Record<string, unknown>): Promise<void> {
    const api = this.api.value
    if (!api) return
    this.busy = true
    this.message = ''
    try {
      const result = await api.control(this.path, this.method, params)
      this.failed = false
      this.message = this.doneText || 'done'
      this.dispatchEvent(new CustomEvent('action-done', { detail: result, bubbles: true, composed: true }))
      // A reader who left the page while the answer was on its way stays where they went.
      const next = this.follow && this.isConnected ? followHref(result) : null
      if (next) location.hash = next
    } catch (err) {
      this.failed = true
      this.message = (err as Error).message
    } finally {
      this.busy = false
    }
  }
}

customElements.define('bb-action', BbAction)
