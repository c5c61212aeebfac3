import { LitElement, html, css, nothing } from 'lit'
import '@lit-labs/virtualizer'
import { ResourceController } from '../controllers/resource-controller.ts'
import { MATRIX_FIELDS, naturalIndex, countStates, inFilter, visibleJobs, settledJobs, jobDuration, FAILED_STATES, ACTIVE_STATES, type NixJob } from '../util/matrix-model.ts'
import { formatDuration } from '../util/format.ts'
import { buildHref } from '../router/route.ts'
import { sharedStyles } from './shared-styles.ts'
import { stateBadge } from './result-badge.ts'
import './bb-matrix-timeline.ts'
import './bb-eval-warnings.ts'

const FILTERS = ['', 'failed', 'building', 'pending', 'success', 'skipped', 'cancelled']

/**
 * The build matrix of an evaluation: live `nixjobs`, counts and progress, failures first, filter
 * by state, search by name, a virtualized list and a timeline. Thousands of attributes stay
 * smooth: events coalesce into one render and only visible rows exist in the DOM. The filter and
 * search come from the page (the URL) and changes are told with a `matrix-view` event
 * (`{filter, query}`), so the page can keep them in the URL. Attributes skipped as already built
 * link to the build that built them (the Nix plugin's `nixbuiltby`).
 */
export class BbNixMatrix extends LitElement {
  static override properties = { buildid: { type: Number }, complete: { type: Boolean }, steps: { attribute: false }, filter: {}, query: {} }
  static override styles = [sharedStyles, css`
    .progress { height: .6rem; background: var(--border); border-radius: 3px; overflow: hidden; display: flex; }
    .progress > span { display: block; height: 100%; }
    .list { height: 60vh; border: 1px solid var(--border); border-radius: 4px; }
    .job { display: grid; grid-template-columns: minmax(0, 1fr) 9rem 10rem 6rem; gap: .5rem; width: 100%;
      padding: .2rem .5rem; border-bottom: 1px solid var(--border); box-sizing: border-box; align-items: center; }
    .head { font-weight: 600; color: var(--muted); font-size: .85rem; }
    .attr { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .reason { grid-column: 1 / -1; font-size: .8rem; }
    .filters button[aria-pressed='true'] { background: var(--link); color: var(--bg); }
    @media (max-width: 640px) {
      .job { grid-template-columns: minmax(0, 1fr) 9.25rem 4.5rem; gap: .4rem; } .system { display: none; }
      /* Names wrap rather than being cut: unit-1 and unit-10 must not look alike. */
      .attr { white-space: normal; overflow-wrap: anywhere; }
    }
  `]
  declare buildid: number
  /** Whether the evaluation build has ended: jobs still active then are shown as interrupted. */
  declare complete: boolean
  declare steps: Record<string, unknown>[]
  declare filter: string
  declare query: string
  private readonly jobs = new ResourceController<NixJob & Record<string, unknown>>(this, { path: null, idField: 'jobid', final: () => this.complete })
  private readonly builtBy = new ResourceController(this, { path: null, wsPath: false, idField: 'attr' })
  private builtByFor = -1
  private memo: { key: string; list: NixJob[] } = { key: '', list: [] }
  private settled: { key: string; list: NixJob[] } = { key: '', list: [] }

  constructor() {
    super()
    this.steps = []
    this.complete = false
    this.filter = ''
    this.query = ''
  }

  override willUpdate(): void {
    this.jobs.setPath(`builds/${this.buildid}/nixjobs?${MATRIX_FIELDS.map((f) => `field=${f}`).join('&')}`)
    // Read once there are "already built" attributes, and again when more appear.
    const skipped = this.all().reduce((n, j) => n + (j.state === 'skipped' ? 1 : 0), 0)
    if (skipped && skipped !== this.builtByFor) {
      const path = `builds/${this.buildid}/nixbuiltby`
      if (this.builtByFor === -1) this.builtBy.setPath(path)
      else void this.builtBy.refetch()
      this.builtByFor = skipped
    }
  }

  private setView(filter: string, query: string): void {
    this.filter = filter
    this.query = query
    this.dispatchEvent(new CustomEvent('matrix-view', { detail: { filter, query }, bubbles: true, composed: true }))
  }

  private all(): NixJob[] {
    const key = `${this.jobs.version}|${this.complete}`
    if (this.settled.key !== key) this.settled = { key, list: settledJobs(this.jobs.items, this.complete) }
    return this.settled.list
  }

  private builtByMemo: { version: number; map: Map<unknown, Record<string, unknown>> } = { version: -1, map: new Map() }
  private builtByMap(): Map<unknown, Record<string, unknown>> {
    if (this.builtByMemo.version !== this.builtBy.version) this.builtByMemo = { version: this.builtBy.version, map: new Map(this.builtBy.items.map((b) => [b.attr, b])) }
    return this.builtByMemo.map
  }

  private natural: { size: number; order: Map<string, number> } = { size: -1, order: new Map() }

  private visible(): NixJob[] {
    const key = `${this.jobs.version}|${this.complete}|${this.filter}|${this.query}`
    if (this.memo.key !== key) {
      const all = this.all()
      // Attributes come with the evaluation and stay: a live update changes states, not names.
      if (this.natural.size !== all.length) this.natural = { size: all.length, order: naturalIndex(all) }
      this.memo = { key, list: visibleJobs(all, this.filter, this.query, this.natural.order) }
    }
    return this.memo.list
  }

  override render() {
    const all = this.all()
    const counts = countStates(all)
    const failed = all.filter((j) => FAILED_STATES.has(j.state)).length
    const active = all.filter((j) => ACTIVE_STATES.has(j.state)).length
    const done = all.length - active
    const list = this.visible()
    const pct = (n: number) => (all.length ? (n / all.length) * 100 : 0)
    return html`
      <section aria-label="build matrix">
        <h2>Build matrix</h2>
        ${this.steps.map((s) => html`<bb-eval-warnings .stepid=${s.stepid}></bb-eval-warnings>`)}
        ${this.jobs.error ? html`<p class="error" role="alert">${this.jobs.error}</p>` : nothing}
        <div data-testid="matrix-counts">
          <strong>${all.length}</strong> attributes · ${done} done · ${failed} failed · ${active} running or waiting
        </div>
        <div class="progress" role="progressbar" aria-label="matrix progress" aria-valuemin="0" aria-valuemax=${all.length} aria-valuenow=${done}>
          <span style="width:${pct(counts.get('success') ?? 0)}%; background: var(--success)"></span>
          <span style="width:${pct(failed)}%; background: var(--failure)"></span>
          <span style="width:${pct(done - failed - (counts.get('success') ?? 0))}%; background: var(--skipped)"></span>
          <span style="width:${pct(counts.get('building') ?? 0)}%; background: var(--running)"></span>
        </div>
        <details open style="margin-top:.5rem"><summary>Timeline</summary>
          <bb-matrix-timeline .jobs=${all} .version=${this.jobs.version}></bb-matrix-timeline>
        </details>
        <div class="row filters" role="group" aria-label="filter by state" style="margin:.5rem 0">
          ${FILTERS.map((f) => {
            let n = 0
            for (const [state, c] of counts) if (inFilter(state, f)) n += c
            return html`<button type="button" aria-pressed=${this.filter === f ? 'true' : 'false'} data-filter=${f || 'all'}
              @click=${() => this.setView(f, this.query)}>${f || 'all'} (${n})</button>`
          })}
          <label class="sr-only" for="q">Search attributes</label>
          <input id="q" type="search" placeholder="Search attributes" aria-label="Search attributes" .value=${this.query}
            @input=${(e: Event) => this.setView(this.filter, (e.target as HTMLInputElement).value)}>
        </div>
        <div class="job head" aria-hidden="true"><span>Attribute</span><span class="system">System</span><span>State</span><span>Duration</span></div>
        <lit-virtualizer class="list" scroller role="list" aria-label="attributes" data-count=${list.length}
          .items=${list} .keyFunction=${(j: NixJob) => j.jobid} .renderItem=${(j: NixJob) => this.renderJob(j)}></lit-virtualizer>
        ${!list.length && !this.jobs.loading ? html`<p class="muted">No attributes${this.query || this.filter ? ' match' : ' yet'}.</p>` : nothing}
      </section>`
  }

  private renderJob(j: NixJob) {
    const by = j.state === 'skipped' ? this.builtBy.items.length && this.builtByMap().get(j.attr) : undefined
    return html`<div class="job" role="listitem" data-attr=${j.attr}>
      <span class="attr" title=${j.attr}>${j.child_buildid ? html`<a href=${buildHref(j.child_buildid)}>${j.attr}</a>` : j.attr}</span>
      <span class="system muted">${j.system}</span>
      <span>${stateBadge(j.state)}</span>
      <span>${formatDuration(jobDuration(j))}</span>
      ${j.reason || j.first_failure_url ? html`<span class="reason muted">${j.reason ?? ''}
        ${j.first_failure_url ? html`<a href=${j.first_failure_url}>first failure</a>` : nothing}
        ${by ? html`by <a data-testid="built-by" href=${buildHref(by.buildid as number)}>${by.number != null ? `${j.attr} #${by.number}` : 'its build'}</a>` : nothing}</span>` : nothing}
    </div>`
  }
}

customElements.define('bb-nix-matrix', BbNixMatrix)
