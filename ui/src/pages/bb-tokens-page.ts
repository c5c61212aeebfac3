import { LitElement, html, css, nothing } from 'lit'
import { ContextConsumer } from '@lit/context'
import { apiContext, configContext } from '../api/context.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { timeAt } from '../components/time-at.ts'

interface Token { tokenid: number; name: string; created_at: number }

/**
 * `#/tokens`: the signed-in user's API tokens for scripts. A new token is shown once (only its hash
 * is kept); scripts send it as `Authorization: Bearer <token>`. Revoking one stops it at once.
 */
export class BbTokensPage extends LitElement {
  static override properties = { tokens: { state: true }, fresh: { state: true }, error: { state: true }, busy: { state: true } }
  static override styles = [sharedStyles, css`
    form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: end; margin: .75rem 0; }
    label { display: grid; gap: .2rem; font-size: .9rem; }
    table { border-collapse: collapse; min-width: 20rem; }
    td, th { padding: .3rem .6rem; text-align: left; border-bottom: 1px solid var(--border); }
    .secret { display: block; padding: .5rem; margin: .4rem 0; background: var(--bg); word-break: break-all; user-select: all; }
  `]
  declare tokens: Token[] | undefined
  declare fresh: { name: string; token: string } | undefined
  declare error: string
  declare busy: boolean
  private readonly api = new ContextConsumer(this, { context: apiContext })
  private readonly config = new ContextConsumer(this, { context: configContext, subscribe: true })

  constructor() {
    super()
    this.error = ''
    this.busy = false
  }

  override connectedCallback(): void {
    super.connectedCallback()
    void this.load()
  }

  private async load(): Promise<void> {
    const api = this.api.value
    const user = this.config.value?.user
    if (!api || !user || user.anonymous) return
    try { this.tokens = await api.control('auth/tokens', 'list') as Token[] } catch (err) { this.error = (err as Error).message }
  }

  override render() {
    const config = this.config.value ?? {}
    if (!config.user || config.user.anonymous) return html`<p class="notice">Sign in to manage your API tokens.</p>`
    if (!config.auth?.api_tokens) return html`<p class="notice">This master offers no API tokens.</p>`
    return html`<h1>API tokens</h1>
      <p class="muted">Scripts send a token as <code>Authorization: Bearer &lt;token&gt;</code> to <code>/api/v2</code>; it acts with your roles.</p>
      ${this.fresh ? html`<div class="notice" role="status">New token <strong>${this.fresh.name}</strong>, shown only now; copy it:
        <code class="secret" data-token>${this.fresh.token}</code></div>` : nothing}
      <form @submit=${this.create} aria-label="New API token">
        <label>Name <input name="name" required maxlength="100" placeholder="deploy script" ?disabled=${this.busy}></label>
        <button class="primary" type="submit" ?disabled=${this.busy}>Create token</button>
      </form>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${this.tokens === undefined ? html`<p class="muted">Loading…</p>` : this.tokens.length === 0 ? html`<p class="muted">No tokens yet.</p>` : html`
        <table aria-label="Your API tokens">
          <thead><tr><th>Name</th><th>Created</th><th></th></tr></thead>
          <tbody>${this.tokens.map((t) => html`<tr>
            <td>${t.name}</td><td>${timeAt(t.created_at)}</td>
            <td><button type="button" @click=${() => this.revoke(t)} aria-label="Revoke ${t.name}" ?disabled=${this.busy}>Revoke</button></td>
          </tr>`)}</tbody>
        </table>`}`
  }

  private async create(e: Event): Promise<void> {
    e.preventDefault()
    const api = this.api.value
    if (!api) return
    const form = e.target as HTMLFormElement
    const name = String(new FormData(form).get('name') ?? '').trim()
    this.busy = true
    this.error = ''
    try {
      const made = await api.control('auth/tokens', 'create', { name }) as { name: string; token: string }
      this.fresh = { name: made.name, token: made.token }
      form.reset()
      await this.load()
    } catch (err) { this.error = (err as Error).message } finally { this.busy = false }
  }

  private async revoke(t: Token): Promise<void> {
    const api = this.api.value
    if (!api) return
    this.busy = true
    this.error = ''
    try {
      await api.control(`auth/tokens/${t.tokenid}`, 'revoke')
      if (this.fresh?.name === t.name) this.fresh = undefined
      await this.load()
    } catch (err) { this.error = (err as Error).message } finally { this.busy = false }
  }
}

customElements.define('bb-tokens-page', BbTokensPage)
