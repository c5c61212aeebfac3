import { LitElement, html, css, nothing } from 'lit'
import '@lit-labs/virtualizer'
import { unsafeHTML } from 'lit/directives/unsafe-html.js'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { resultBadge, stateBadge } from '../components/result-badge.ts'
import { branchRows, defaultBranchRow, type BuildLike } from '../util/branches.ts'
import { attrOrder, cellOf, type NixGrid } from '../util/grid-model.ts'
import { ACTIVE_STATES } from '../util/matrix-model.ts'
import { prop } from '../util/format.ts'
import { buildHref, routeHref, type Route } from '../router/route.ts'
import { timeAt } from '../components/time-at.ts'

type HistoryRoute = Extract<Route, { name: 'history' }>
const PAGE = 50
const PROPS = ['branch', 'event', 'pr_number', 'got_revision', 'revision', 'default_branch'].map((p) => `property=${p}`).join('&')

/**
 * A project's history, as Hydra's jobset table and Buildbot's grid: per branch the last
 * evaluations (columns, newest first) x attributes (rows, natural order), each cell the
 * attribute's state linking to its build; paged by 50 evaluations. With `attr`, one attribute's
 * history across evaluations. Branch, page, attribute and search live in the URL.
 */
export class BbHistoryPage extends LitElement {
  static override properties = { route: { attribute: false } }
  static override styles = [sharedStyles, css`
    .grid { height: 65vh; border: 1px solid var(--border); border-radius: 4px; }
    .row-g { display: flex; align-items: center; width: 100%; border-bottom: 1px solid var(--border); box-sizing: border-box; }
    .name { flex: 0 0 16rem; min-width: 0; overflow-wrap: anywhere; padding: .1rem .4rem; font-size: .85rem; }
    .cells { display: flex; gap: 2px; padding: .15rem .25rem; }
    .cell { display: block; width: 14px; height: 14px; border-radius: 2px; background: var(--border); flex: 0 0 14px; }
    .cell.success { background: var(--success); }
    .cell.failed, .cell.eval-failed, .cell.cached-failure { background: var(--failure); }
    .cell.dependency-failed { background: var(--failure); opacity: .55; }
    .cell.skipped, .cell.unsupported-system { background: var(--skipped); }
    .cell.cancelled { background: var(--cancelled); }
    .cell.building, .cell.pending { background: var(--running); }
    .cell.interrupted { background: var(--retry); }
    .cell.absent { background: transparent; border: 1px dashed var(--border); box-sizing: border-box; }
    .head .cells a { width: 14px; flex: 0 0 14px; font-size: .6rem; writing-mode: vertical-rl; text-decoration: none; }
    .head { font-weight: 600; color: var(--muted); }
    @media (max-width: 640px) { .name { flex-basis: 8rem; } }
  `]
  declare route: HistoryRoute
  private readonly builders = new ResourceController(this, { path: null, wsPath: false })
  private readonly evals = new ResourceController<BuildLike & Record<string, unknown>>(this, { path: null, wsPath: false })
  private readonly grid = new ResourceController<NixGrid & Record<string, unknown>>(this, { path: null, wsPath: false, idField: 'id' })
  private memo: { key: string; order: number[] } = { key: '', order: [] }

  override willUpdate(): void {
    this.builders.setPath(`projects/${this.route.projectid}/builders`)
    const evalBuilder = this.builders.items.find((b) => String(b.name).endsWith('/nix-eval'))
    this.evals.setPath(evalBuilder ? `builders/${evalBuilder.builderid}/builds?order=-number&limit=1000&${PROPS}` : null)
    const page = this.page()
    this.grid.setPath(page.length ? `nixgrid/${page.map((b) => b.buildid).join(',')}` : null)
  }

  /** Evaluations of the chosen branch (default: the project's default branch), newest first. */
  private branchEvals(): { branch: string; all: BuildLike[]; branches: string[] } {
    const evals = [...this.evals.items].sort((a, b) => b.buildid - a.buildid)
    const rows = branchRows(evals).filter((r) => r.kind === 'branch')
    const branch = this.route.branch || defaultBranchRow(rows, evals)?.branch || ''
    const all = evals.filter((b) => String(prop(b.properties, 'branch') ?? '') === branch && !prop(b.properties, 'pr_number'))
    return { branch, all, branches: rows.map((r) => r.branch) }
  }

  private page(): BuildLike[] {
    return this.branchEvals().all.slice(this.route.offset, this.route.offset + PAGE)
  }

  private go(patch: Partial<HistoryRoute>): string {
    return routeHref({ ...this.route, ...patch })
  }

  override render() {
    const { branch, all, branches } = this.branchEvals()
    const page = all.slice(this.route.offset, this.route.offset + PAGE)
    const grid = this.grid.first
    const r = this.route
    return html`
      <nav aria-label="Breadcrumb"><a href="#/projects">Projects</a> / <a href="#/projects/${r.projectid}">project</a> /</nav>
      <h1>History of ${branch || 'a branch'}${r.attr ? html`: <span class="mono">${r.attr}</span>` : nothing}</h1>
      <div class="row" role="group" aria-label="branches">
        ${branches.map((b) => html`<a href=${this.go({ branch: b, offset: 0 })} aria-current=${b === branch ? 'page' : 'false'}>${b}</a>`)}
      </div>
      ${this.evals.error || this.grid.error ? html`<p class="error" role="alert">${this.evals.error ?? this.grid.error}</p>` : nothing}
      <div class="row" style="margin:.5rem 0">
        <span class="muted" data-testid="history-range">evaluations ${page.length ? `${r.offset + 1}–${r.offset + page.length}` : 0} of ${all.length}</span>
        ${r.offset > 0 ? html`<a class="button" href=${this.go({ offset: Math.max(0, r.offset - PAGE) })}>Newer</a>` : nothing}
        ${r.offset + PAGE < all.length ? html`<a class="button" href=${this.go({ offset: r.offset + PAGE })}>Older</a>` : nothing}
        ${r.attr ? html`<a href=${this.go({ attr: '' })}>All attributes</a>` : html`
          <label class="sr-only" for="q">Search attributes</label>
          <input id="q" type="search" placeholder="Search attributes" aria-label="Search attributes" .value=${r.q}
            @change=${(e: Event) => { location.replace(this.go({ q: (e.target as HTMLInputElement).value })) }}>`}
      </div>
      ${!grid ? html`<p class="muted">${this.evals.loading || this.grid.loading ? 'Loading…' : 'No evaluations of this branch yet.'}</p>`
        : r.attr ? this.renderAttribute(grid, page) : this.renderGrid(grid, page)}`
  }

  private renderGrid(grid: NixGrid, page: BuildLike[]) {
    const key = `${grid.id}|${this.route.q}`
    if (this.memo.key !== key) this.memo = { key, order: attrOrder(grid, this.route.q) }
    const order = this.memo.order
    const evalIndex = page.map((b) => grid.evaluations.findIndex((e) => e.buildid === b.buildid))
    return html`
      <div class="row-g head" aria-hidden="true"><span class="name">attribute \\ evaluation</span><span class="cells">
        ${page.map((b) => html`<a href=${buildHref(b.buildid)} title="#${b.number} ${String(prop(b.properties, 'got_revision') ?? '').slice(0, 12)}">${b.number}</a>`)}
      </span></div>
      <lit-virtualizer class="grid" scroller role="table" aria-label="history grid" data-rows=${order.length} data-columns=${page.length}
        .items=${order} .keyFunction=${(i: number) => i}
        .renderItem=${(i: number) => html`<div class="row-g" role="row" data-attr=${grid.attrs[i]}>
          <a class="name" role="rowheader" href=${this.go({ attr: grid.attrs[i]!, q: '' })}>${grid.attrs[i]}</a>
          <span class="cells">${unsafeHTML(cellsHtml(grid, page, evalIndex, i))}</span>
        </div>`}></lit-virtualizer>`
  }

  private renderAttribute(grid: NixGrid, page: BuildLike[]) {
    const i = grid.attrs.indexOf(this.route.attr)
    return html`<table aria-label="attribute history">
      <thead><tr><th>Evaluation</th><th>State</th><th class="hide-narrow">Revision</th><th class="hide-narrow">When</th><th>Build</th></tr></thead>
      <tbody>${page.map((b) => {
        const e = grid.evaluations.findIndex((x) => x.buildid === b.buildid)
        const c = i === -1 || e === -1 ? { state: 'absent', child: null } : settled(cellOf(grid, e, i), b.complete)
        return html`<tr data-eval=${b.buildid}>
          <td><a href=${buildHref(b.buildid)}>#${b.number}</a> ${resultBadge(b.results, b.complete)}</td>
          <td>${c.state === 'absent' ? html`<span class="muted">not evaluated</span>` : stateBadge(c.state)}</td>
          <td class="mono hide-narrow">${String(prop(b.properties, 'got_revision') ?? prop(b.properties, 'revision') ?? '').slice(0, 12)}</td>
          <td class="muted hide-narrow">${timeAt(b.started_at)}</td>
          <td>${c.child ? html`<a href=${buildHref(c.child)}>build</a>` : nothing}</td>
        </tr>`
      })}</tbody></table>`
  }
}

customElements.define('bb-history-page', BbHistoryPage)

/**
 * One row's cells as HTML text: 50 evaluations x the visible rows are thousands of cells, and
 * parsing their text once per row costs a fraction of a template instance per cell. Every value
 * is escaped (states come from the server's code table, names from the flake).
 */
function cellsHtml(grid: NixGrid, page: BuildLike[], evalIndex: number[], i: number): string {
  let out = ''
  const attr = grid.attrs[i]!
  for (let col = 0; col < evalIndex.length; col++) {
    const e = evalIndex[col]!
    const c = e === -1 ? { state: 'absent', child: null } : settled(cellOf(grid, e, i), page[col]!.complete)
    const title = escapeHtml(`${attr} in #${page[col]!.number}: ${c.state}`)
    const cls = `cell ${escapeHtml(c.state)}`
    out += c.child ? `<a class="${cls}" role="cell" href="${buildHref(c.child)}" title="${title}" aria-label="${title}"></a>`
      : `<span class="${cls}" role="cell" title="${title}" aria-label="${title}"></span>`
  }
  return out
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!)

/** In an evaluation that has ended, an attribute still pending or building was cut off. */
function settled<T extends { state: string }>(c: T, evaluationComplete: boolean): T {
  return evaluationComplete && ACTIVE_STATES.has(c.state) ? { ...c, state: 'interrupted' } : c
}
