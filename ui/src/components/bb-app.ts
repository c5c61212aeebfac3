import { LitElement, html, css, nothing } from 'lit'
import { ContextProvider } from '@lit/context'
import { apiContext, configContext } from '../api/context.ts'
import type { ApiClient } from '../api/api-client.ts'
import { loginHref, userName, type FrontendConfig } from '../api/frontend-config.ts'
import { RouterController } from '../router/router-controller.ts'
import type { Route } from '../router/route.ts'
import { sharedStyles } from './shared-styles.ts'
import '../pages/bb-projects-page.ts'
import '../pages/bb-project-page.ts'
import '../pages/bb-history-page.ts'
import '../pages/bb-builders-page.ts'
import '../pages/bb-builder-page.ts'
import '../pages/bb-build-page.ts'
import '../pages/bb-log-page.ts'
import '../pages/bb-workers-page.ts'
import '../pages/bb-changes-page.ts'
import '../pages/bb-buildrequests-page.ts'
import '../pages/bb-buildrequest-page.ts'
import '../pages/bb-login-page.ts'
import '../pages/bb-tokens-page.ts'

/** The shell: provides the API client and config to every page and picks the page by route. */
export class BbApp extends LitElement {
  static override properties = { client: { attribute: false }, config: { attribute: false }, connected: { state: true }, authError: { state: true } }
  static override styles = [sharedStyles, css`
    :host { min-height: 100vh; }
    header { display: flex; align-items: center; gap: 1rem; padding: .5rem 1rem; background: var(--panel);
      border-bottom: 1px solid var(--border); flex-wrap: wrap; }
    header .title { font-weight: 700; color: var(--fg); text-decoration: none; }
    nav { display: flex; gap: .75rem; flex-wrap: wrap; }
    nav a { text-decoration: none; padding: .2rem .4rem; border-radius: 4px; }
    nav a[aria-current='page'] { background: var(--bg); font-weight: 600; }
    .spacer { flex: 1; }
    .conn { font-size: .8rem; }
    .conn.down { color: var(--failure); }
    main { padding: 1rem; max-width: 1400px; margin: 0 auto; }
    @media (max-width: 640px) { header { gap: .5rem; padding: .5rem; } main { padding: .5rem; } }
  `]

  declare client: ApiClient
  declare config: FrontendConfig
  declare connected: boolean
  declare authError: string
  private readonly router = new RouterController(this)
  private readonly apiProvider = new ContextProvider(this, { context: apiContext })
  private readonly configProvider = new ContextProvider(this, { context: configContext })
  private offStatus: (() => void) | null = null

  constructor() {
    super()
    this.connected = true
    this.authError = ''
  }

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('client') && this.client) {
      this.apiProvider.setValue(this.client)
      this.offStatus?.()
      this.offStatus = this.client.ws.onStatus((up) => { this.connected = up })
    }
    if (changed.has('config') && this.config) {
      this.configProvider.setValue(this.config)
      if (this.config.title) document.title = this.config.title
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.offStatus?.()
  }

  override render() {
    if (!this.client || !this.config) return nothing
    const route = this.router.route
    const section = sectionOf(route)
    const link = (href: string, label: string, name: string) =>
      html`<a href=${href} aria-current=${section === name ? 'page' : 'false'}>${label}</a>`
    return html`
      <header>
        <a class="title" href="#/projects">${this.config.title ?? 'buildbot-nix'}</a>
        <nav aria-label="Main">
          ${link('#/projects', 'Projects', 'projects')}
          ${link('#/builders', 'Builders', 'builders')}
          ${link('#/workers', 'Workers', 'workers')}
          ${link('#/changes', 'Changes', 'changes')}
          ${link('#/buildrequests', 'Pending', 'buildrequests')}
        </nav>
        <span class="spacer"></span>
        <span class="conn ${this.connected ? '' : 'down'}" role="status" aria-live="polite">
          ${this.connected ? '' : 'Disconnected, reconnecting…'}
        </span>
        ${this.renderAuth()}
      </header>
      <main>${this.renderPage(route)}</main>
    `
  }

  private renderAuth() {
    const auth = this.config.auth?.name ?? 'NoAuth'
    if (auth === 'NoAuth') return nothing
    const route = this.router.route
    const here = route.name === 'login' ? route.redirect : (location.hash.replace(/^#/, '') || '/')
    const user = userName(this.config)
    if (user) {
      return html`<span class="muted">${user}</span>
        ${this.config.auth?.api_tokens ? html`<a href="#/tokens">API tokens</a>` : nothing}
        <button type="button" @click=${this.logout} aria-label="Log out ${user}">Logout</button>
        ${this.authError ? html`<span class="error" role="alert">${this.authError}</span>` : nothing}`
    }
    if (route.name === 'login') return nothing
    const a = this.config.auth
    const label = a?.kind === 'redirect' && a.label ? a.label : a?.oauth2 ? `Login with ${auth}` : 'Login'
    return html`<a href=${loginHref(this.config, here) ?? 'auth/login'}>${label}</a>`
  }

  /** A POST with the CSRF token (a link could be followed by any page); then the page of the answer. */
  private async logout(): Promise<void> {
    try {
      const to = await this.client.logout()
      const url = new URL(to, location.href)
      if (url.origin === location.origin && url.pathname === location.pathname) location.reload()
      else location.href = url.href
    } catch (err) {
      this.authError = (err as Error).message
    }
  }

  private renderPage(route: Route) {
    switch (route.name) {
      case 'projects': return html`<bb-projects-page></bb-projects-page>`
      case 'project': return html`<bb-project-page .projectid=${route.projectid}></bb-project-page>`
      case 'history': return html`<bb-history-page .route=${route}></bb-history-page>`
      case 'builders': return html`<bb-builders-page></bb-builders-page>`
      case 'builder': return html`<bb-builder-page .builderid=${route.builderid}></bb-builder-page>`
      case 'build': return html`<bb-build-page .buildPath=${route.buildPath} .filter=${route.filter} .query=${route.q}></bb-build-page>`
      case 'log': return html`<bb-log-page .route=${route}></bb-log-page>`
      case 'workers': return html`<bb-workers-page></bb-workers-page>`
      case 'changes': return html`<bb-changes-page></bb-changes-page>`
      case 'buildrequests': return html`<bb-buildrequests-page></bb-buildrequests-page>`
      case 'buildrequest': return html`<bb-buildrequest-page .buildrequestid=${route.buildrequestid} .follow=${route.follow}></bb-buildrequest-page>`
      case 'login': return html`<bb-login-page .redirect=${route.redirect}></bb-login-page>`
      case 'tokens': return html`<bb-tokens-page></bb-tokens-page>`
      case 'notFound': return html`<p class="error">No page at <code>#/${route.path}</code>. <a href="#/projects">Projects</a></p>`
    }
  }
}

function sectionOf(route: Route): string {
  switch (route.name) {
    case 'project': case 'history': return 'projects'
    case 'builder': case 'build': case 'log': return 'builders'
    case 'buildrequest': return 'buildrequests'
    default: return route.name
  }
}

customElements.define('bb-app', BbApp)
