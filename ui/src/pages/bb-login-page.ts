import { LitElement, html, nothing } from 'lit'
import { ContextConsumer } from '@lit/context'
import { apiContext, configContext } from '../api/context.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { css } from 'lit'

/** Only a page of this UI (`/builders/1`), never another site. */
export const safeRedirect = (r: string): string => (r.startsWith('/') && !r.startsWith('//') ? r : '/')

/**
 * `#/login`: the user/password form of a form provider (the built-in login), or the sign-in button
 * of a redirect provider. On success the page reloads at `redirect` with the new session's config.
 */
export class BbLoginPage extends LitElement {
  static override properties = { redirect: {}, busy: { state: true }, error: { state: true } }
  static override styles = [sharedStyles, css`
    form { display: grid; gap: .6rem; max-width: 22rem; }
    label { display: grid; gap: .2rem; font-size: .9rem; }
  `]
  declare redirect: string
  declare busy: boolean
  declare error: string
  private readonly api = new ContextConsumer(this, { context: apiContext })
  private readonly config = new ContextConsumer(this, { context: configContext, subscribe: true })

  constructor() {
    super()
    this.redirect = '/'
    this.busy = false
    this.error = ''
  }

  override render() {
    const config = this.config.value ?? {}
    const auth = config.auth
    const to = safeRedirect(this.redirect)
    if (!auth || auth.name === 'NoAuth') return html`<p class="notice">This master has no login.</p>`
    const user = config.user
    if (user && !user.anonymous) return html`<p class="notice">You are logged in as ${user.full_name || user.username || user.email}. <a href=${`#${to}`}>Continue</a></p>`
    if (auth.kind === 'redirect' && auth.provider) {
      return html`<h1>Log in</h1>
        <a class="button" href=${`auth/${encodeURIComponent(auth.provider)}/login?redirect=${encodeURIComponent(to)}`}>${auth.label ?? `Log in with ${auth.name}`}</a>`
    }
    return html`<h1>Log in</h1>
      <form @submit=${this.submit} aria-label="Log in">
        <label>User name <input name="username" autocomplete="username" required ?disabled=${this.busy}></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required ?disabled=${this.busy}></label>
        <div class="row"><button class="primary" type="submit" ?disabled=${this.busy}>${auth.label ?? 'Log in'}</button></div>
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      </form>`
  }

  private async submit(e: Event): Promise<void> {
    e.preventDefault()
    const api = this.api.value
    const provider = this.config.value?.auth?.provider
    if (!api || !provider) return
    const form = new FormData(e.target as HTMLFormElement)
    this.busy = true
    this.error = ''
    try {
      await api.login(provider, String(form.get('username') ?? ''), String(form.get('password') ?? ''))
      // The page's config (user, csrf_token) comes with index.html: load it again at the target.
      location.hash = safeRedirect(this.redirect)
      location.reload()
    } catch (err) {
      this.error = (err as Error).message
      this.busy = false
    }
  }
}

customElements.define('bb-login-page', BbLoginPage)
