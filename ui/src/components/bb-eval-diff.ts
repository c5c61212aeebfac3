import { LitElement, html, css, nothing, type PropertyValues } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { branchRows, defaultBranchRow, type BuildLike } from '../util/branches.ts'
import { diffEvaluations, type NixGrid } from '../util/grid-model.ts'
import { prop } from '../util/format.ts'
import { buildHref } from '../router/route.ts'
import { sharedStyles } from './shared-styles.ts'

const PROPS = ['branch', 'event', 'pr_number', 'default_branch'].map((p) => `property=${p}`).join('&')
const GROUPS: [keyof ReturnType<typeof diffEvaluations>, string][] = [
  ['newlyFailing', 'newly failing'], ['stillFailing', 'still failing'], ['fixed', 'fixed'], ['added', 'added'], ['removed', 'removed'],
]

/**
 * What changed since the previous evaluation of the same branch (a pull request: since the
 * latest evaluation of the default branch): newly failing, still failing, fixed, added, removed.
 */
export class BbEvalDiff extends LitElement {
  static override properties = { buildid: { type: Number }, builderid: { type: Number }, complete: { type: Boolean } }
  static override styles = [sharedStyles, css`
    ul { margin: .25rem 0; padding-left: 1.25rem; }
    li { overflow-wrap: anywhere; }
    .group { margin: .25rem 0; }
  `]
  declare buildid: number
  declare builderid: number
  declare complete: boolean
  private readonly evals = new ResourceController<BuildLike & Record<string, unknown>>(this, { path: null, wsPath: false })
  private readonly grid = new ResourceController<NixGrid & Record<string, unknown>>(this, { path: null, wsPath: false, idField: 'id' })

  override willUpdate(changed: PropertyValues<this>): void {
    this.evals.setPath(`builders/${this.builderid}/builds?order=-number&limit=200&${PROPS}`)
    const prev = this.previous()
    this.grid.setPath(prev ? `nixgrid/${prev.buildid},${this.buildid}` : null)
    if (changed.has('complete') && changed.get('complete') === false) void this.grid.refetch()
  }

  private previous(): BuildLike | undefined {
    const evals = [...this.evals.items].sort((a, b) => b.buildid - a.buildid)
    const me = evals.find((b) => b.buildid === this.buildid)
    if (!me) return undefined
    const pr = prop(me.properties, 'pr_number')
    const earlier = evals.filter((b) => b.buildid < this.buildid && b.complete && b.results !== 5)
    if (pr != null && pr !== '') {
      const base = defaultBranchRow(branchRows(evals), evals)?.branch
      return earlier.find((b) => prop(b.properties, 'branch') === base && !prop(b.properties, 'pr_number'))
    }
    const branch = prop(me.properties, 'branch')
    return earlier.find((b) => prop(b.properties, 'branch') === branch && !prop(b.properties, 'pr_number'))
  }

  override render() {
    const prev = this.previous()
    const grid = this.grid.first
    if (!prev || !grid || grid.evaluations.length < 2) return nothing
    const d = diffEvaluations(grid, 0, 1)
    const total = GROUPS.reduce((n, [k]) => n + d[k].length, 0)
    return html`<section class="card" aria-label="what changed" data-testid="eval-diff">
      <strong>Since <a href=${buildHref(prev.buildid)}>evaluation #${prev.number}</a>:</strong>
      ${total === 0 ? html`<span class="muted">nothing changed</span>` : nothing}
      ${GROUPS.filter(([k]) => d[k].length).map(([k, label]) => html`<details class="group" data-group=${k} ?open=${k === 'newlyFailing' && d[k].length <= 20}>
        <summary><span class="badge ${k === 'fixed' ? 'success' : k === 'newlyFailing' || k === 'stillFailing' ? 'failure' : 'skipped'}">${d[k].length} ${label}</span></summary>
        <ul>${d[k].slice(0, 200).map((a) => html`<li class="mono">${a}</li>`)}${d[k].length > 200 ? html`<li class="muted">… ${d[k].length - 200} more</li>` : nothing}</ul>
      </details>`)}
    </section>`
  }
}

customElements.define('bb-eval-diff', BbEvalDiff)
