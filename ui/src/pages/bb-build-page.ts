import { LitElement, html, css, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { resultBadge } from '../components/result-badge.ts'
import { epochDuration, prop } from '../util/format.ts'
import { buildHref, builderHref, routeHref } from '../router/route.ts'
import { TickController } from '../controllers/tick-controller.ts'
import { buildLabel } from '../util/build-label.ts'
import { commitLinks } from '../components/commit-links.ts'
import { copyButton } from '../components/copy-button.ts'
import './bb-step-logs.ts'
import '../components/bb-action.ts'
import '../components/bb-nix-matrix.ts'
import '../components/bb-eval-diff.ts'
import '../components/bb-failure-excerpt.ts'
import { timeAt } from '../components/time-at.ts'

const RETRY = 5

/**
 * A build: state, actions, steps with durations and logs, properties, changes, its parent
 * (the buildset's `parent_buildid`) and the builds it triggered. An evaluation build also shows
 * its Nix build matrix.
 */
export class BbBuildPage extends LitElement {
  static override properties = { buildPath: {}, filter: {}, query: {} }
  static override styles = [sharedStyles, css`
    h1.title { overflow-wrap: anywhere; min-width: 0; }
    td.wrap { overflow-wrap: anywhere; }
  `]
  declare buildPath: string
  /** The build matrix's state filter and search, from the URL. */
  declare filter: string
  declare query: string
  private readonly build = new ResourceController(this, { path: null, final: (items) => items[0]?.complete === true })
  private readonly builder = new ResourceController(this, { path: null, wsPath: false })
  private readonly steps = new ResourceController(this, { path: null, final: () => this.build.first?.complete === true })
  private readonly properties = new ResourceController(this, { path: null, final: () => this.build.first?.complete === true })
  private readonly request = new ResourceController(this, { path: null, wsPath: false })
  private readonly buildset = new ResourceController(this, { path: null, wsPath: false })
  private readonly triggered = new ResourceController(this, { path: null, wsPath: false })
  private readonly changes = new ResourceController(this, { path: null, wsPath: false })
  private readonly parent = new ResourceController(this, { path: null, wsPath: false })
  private readonly builders = new ResourceController(this, { path: 'builders', wsPath: false })
  /** The builder's project: its forge and web URL shape the commit and branch links. */
  private readonly project = new ResourceController(this, { path: null, wsPath: false })
  /** Every build of this build's request: a retried build links to the one that ran it again. */
  private readonly attempts = new ResourceController(this, { path: null, wsPath: 'builds/*/*', refetchOnNew: true })
  // A running build's duration moves with the clock, not only when an event arrives.
  protected readonly tick = new TickController(this, () => this.build.first?.complete === false)

  override willUpdate(): void {
    this.build.setPath(this.buildPath)
    const b = this.build.first
    const id = b?.buildid as number | undefined
    this.builder.setPath(b ? `builders/${b.builderid}` : null)
    const projectid = this.builder.first?.projectid
    this.project.setPath(projectid != null ? `projects/${projectid}` : null)
    this.steps.setPath(id ? `builds/${id}/steps` : null)
    this.properties.setPath(id ? `builds/${id}/properties` : null)
    this.triggered.setPath(id ? `builds/${id}/triggered_builds?property=virtual_builder_name` : null)
    this.changes.setPath(id ? `builds/${id}/changes` : null)
    this.request.setPath(b?.buildrequestid ? `buildrequests/${b.buildrequestid}` : null)
    const bsid = this.request.first?.buildsetid
    this.buildset.setPath(bsid ? `buildsets/${bsid}` : null)
    const parent = this.buildset.first?.parent_buildid as number | null | undefined
    this.parent.setPath(parent ? `builds/${parent}` : null)
    this.attempts.setPath(b?.buildrequestid ? `buildrequests/${b.buildrequestid}/builds` : null)
  }

  override render() {
    const b = this.build.first
    if (this.build.errorStatus === 404) {
      return html`<p class="notice" role="alert">There is no build at <code>#/${this.buildPath}</code>: it never existed or was deleted.
        <a href="#/builders">All builders</a></p>`
    }
    if (this.build.error) return html`<p class="error" role="alert">Could not load this build: ${this.build.error}</p>`
    if (!b) return html`<p class="muted">Loading…</p>`
    const id = b.buildid as number
    const builder = this.builder.first
    const props = (this.properties.first ?? {}) as Record<string, unknown>
    const parent = this.parent.first
    const names = new Map(this.builders.items.map((x) => [x.builderid, x.name as string]))
    // The builders list (read once, in parallel with the build) names it first: the matrix starts
    // reading without waiting for the builder or the properties.
    const builderName = String(builder?.name ?? names.get(b.builderid) ?? '')
    const isEval = prop(props, 'nix_attribute') !== undefined || builderName.endsWith('nix-eval')
    const virtualName = prop(props, 'virtual_builder_name')
    return html`
      <nav aria-label="Breadcrumb"><a href="#/builders">Builders</a> /
        <a href=${builderHref(b.builderid as number)}>${builder?.name ?? b.builderid}</a> /</nav>
      <div class="row" style="justify-content: space-between">
        <h1 class="title">${virtualName ?? builder?.name ?? 'Build'} #${b.number}</h1>
        <div class="row">
          ${!b.complete ? html`<bb-action label="Stop" action="stop" path="builds/${id}" method="stop" doneText="Stopping"
            confirm="Stop ${virtualName ?? builder?.name ?? 'build'} #${b.number}?"></bb-action>` : nothing}
          <bb-action label="Rebuild" action="rebuild" path="builds/${id}" method="rebuild" doneText="Rebuild requested" follow></bb-action>
        </div>
      </div>
      <p class="row">${resultBadge(b.results, b.complete as boolean)} <span>${b.state_string}</span>
        <span class="muted">started ${timeAt(b.started_at)} · <span data-testid="duration">${epochDuration(b.started_at, b.complete_at)}</span></span></p>
      ${parent ? html`<p data-testid="parent">Triggered by <a href=${buildHref(parent.buildid as number)}>${buildLabel(parent, names.get(parent.builderid))}</a>
        ${resultBadge(parent.results, parent.complete as boolean)}</p>` : nothing}
      ${this.renderAttempts(b, names)}
      ${this.renderChanges(props)}
      ${this.renderNixOutputs(props)}
      ${this.renderFailure(b, isEval)}
      ${isEval ? html`<bb-eval-diff .buildid=${id} .builderid=${b.builderid as number} .complete=${b.complete as boolean}></bb-eval-diff>` : nothing}
      ${isEval ? html`<bb-nix-matrix .buildid=${id} .complete=${b.complete as boolean} .steps=${this.steps.items}
        .filter=${this.filter ?? ''} .query=${this.query ?? ''} @matrix-view=${this.keepView}></bb-nix-matrix>` : nothing}
      <h2>Steps</h2>
      <table aria-label="steps">
        <thead><tr><th class="hide-narrow">#</th><th>Step</th><th>Result</th><th>Duration</th><th>Logs</th></tr></thead>
        <tbody>${[...this.steps.items].sort((x, y) => (x.number as number) - (y.number as number)).map((s) => html`<tr>
          <td class="hide-narrow">${s.number}</td>
          <td class="wrap">${s.name}<div class="muted">${s.state_string}</div>
            ${((s.urls as { name: string; url: string }[] | undefined) ?? []).map((u) => html`<a href=${u.url}>${u.name}</a> `)}</td>
          <td>${s.started_at ? resultBadge(s.results, s.complete as boolean) : html`<span class="muted">waiting</span>`}</td>
          <td>${epochDuration(s.started_at, s.complete_at)}</td>
          <td><bb-step-logs .stepid=${s.stepid} .buildid=${id} .number=${s.number}></bb-step-logs></td>
        </tr>`)}</tbody>
      </table>
      ${this.triggered.items.length ? html`<h2>Triggered builds</h2>
        <ul>${this.triggered.items.map((c) => html`<li>${resultBadge(c.results, c.complete as boolean)}
          <a href=${buildHref(c.buildid as number)}>${buildLabel(c, names.get(c.builderid))}</a> <span class="muted">${c.state_string}</span></li>`)}</ul>` : nothing}
      <h2>Properties</h2>
      <table aria-label="properties" class="mono">
        <thead><tr><th>Name</th><th>Value</th><th class="hide-narrow">Source</th></tr></thead>
        <tbody>${Object.entries(props).sort(([a], [c]) => a.localeCompare(c)).map(([name, v]) => {
          const [value, source] = Array.isArray(v) ? v : [v, '']
          return html`<tr><td>${name}</td><td style="word-break: break-all">${typeof value === 'string' ? value : JSON.stringify(value)}</td>
            <td class="muted hide-narrow">${source}</td></tr>`
        })}</tbody>
      </table>`
  }

  /** The matrix's filter and search go into the URL (replacing the entry): a reload or a shared link shows the same view. */
  private readonly keepView = (ev: CustomEvent<{ filter: string; query: string }>): void => {
    location.replace(routeHref({ name: 'build', buildPath: this.buildPath, filter: ev.detail.filter, q: ev.detail.query }))
  }

  /** A check's derivation: the command that builds it locally and its outputs, each copyable. */
  private renderNixOutputs(props: Record<string, unknown>) {
    const drv = prop(props, 'drv_path')
    if (typeof drv !== 'string' || !drv) return nothing
    const out = prop(props, 'out_path')
    const named = prop(props, 'outputs')
    const outputs = named && typeof named === 'object' ? Object.entries(named as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string')
      : typeof out === 'string' && out ? [['out', out] as [string, string]] : []
    const command = `nix build '${drv}^*'`
    return html`<div class="card" aria-label="nix outputs" style="overflow-wrap: anywhere">
      <div class="row">Build it yourself: <code class="mono" data-testid="nix-build-command">${command}</code>${copyButton(command, 'Copy the nix build command')}</div>
      ${outputs.map(([name, path]) => html`<div class="row" data-testid="output">Output ${name}: <code class="mono">${path}</code>${copyButton(path, `Copy the ${name} store path`)}</div>`)}
    </div>`
  }

  /** A failed build (not an evaluation: its matrix shows its failures) opens on its first failed step's error. */
  private renderFailure(b: Record<string, unknown>, isEval: boolean) {
    if (isEval || !b.complete || (b.results !== 2 && b.results !== 4)) return nothing
    const failed = [...this.steps.items].sort((x, y) => (x.number as number) - (y.number as number))
      .find((s) => s.results === 2 || s.results === 4)
    return failed ? html`<bb-failure-excerpt .buildid=${b.buildid as number} .step=${failed.number as number}></bb-failure-excerpt>` : nothing
  }

  /** A build the master retried (RETRY: lost worker, restart) links to the build that ran its request again. */
  private renderAttempts(b: Record<string, unknown>, names: Map<unknown, string>) {
    const all = this.attempts.items.filter((x) => x.buildrequestid === b.buildrequestid)
      .sort((x, y) => (x.buildid as number) - (y.buildid as number))
    const later = all.filter((x) => (x.buildid as number) > (b.buildid as number))
    const earlier = all.filter((x) => (x.buildid as number) < (b.buildid as number))
    if (!later.length && !earlier.length && b.results !== RETRY) return nothing
    const link = (x: Record<string, unknown>) => html`<a href=${buildHref(x.buildid as number)}>${buildLabel(x, names.get(x.builderid))}</a>
      ${resultBadge(x.results, x.complete as boolean)}`
    return html`<p class="notice" data-testid="attempts">
      ${b.results === RETRY ? (later.length ? html`Retried as ${link(later[0]!)}` : html`Will be retried: its request is queued again.
        <a href="#/buildrequests/${b.buildrequestid}">request ${b.buildrequestid}</a>`) : nothing}
      ${earlier.length ? html`${b.results === RETRY ? ' · ' : ''}Attempt ${earlier.length + 1} of ${all.length}; earlier: ${earlier.map(link)}` : nothing}
    </p>`
  }

  private renderChanges(props: Record<string, unknown>) {
    const changes = this.changes.items
    const revision = prop(props, 'got_revision') ?? prop(props, 'revision')
    if (!changes.length && !revision) return nothing
    const p = this.project.first ?? {}
    const forge = { forge: p.forge, webUrl: p.web_url }
    return html`<div class="card" aria-label="changes">
      ${changes.map((c) => html`<div class="row" data-testid="change">${commitLinks({ ...forge, repository: c.repository, revlink: c.revlink }, c.revision, c.branch)}
        <span>${String(c.comments ?? '').split('\n')[0]}</span><span class="muted">${c.author}</span></div>`)}
      ${!changes.length ? html`<div class="row" data-testid="change">Revision ${commitLinks({ ...forge, repository: prop(props, 'repository') }, revision, prop(props, 'branch'))}</div>` : nothing}
    </div>`
  }
}

customElements.define('bb-build-page', BbBuildPage)
