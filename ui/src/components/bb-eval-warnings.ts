import { LitElement, html, nothing } from 'lit'
import { LogController } from '../controllers/log-controller.ts'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from './shared-styles.ts'

/** The `warnings` log of an evaluation step, shown inline when the step has one. */
export class BbEvalWarnings extends LitElement {
  static override properties = { stepid: { type: Number } }
  static override styles = [sharedStyles]
  declare stepid: number
  private readonly logs = new ResourceController(this, { path: null })
  private readonly log = new LogController(this)

  override willUpdate(): void {
    this.logs.setPath(`steps/${this.stepid}/logs`)
    // Only steps that have a `warnings` log are read, so other steps cost no 404.
    const warnings = this.logs.items.find((l) => l.slug === 'warnings')
    this.log.setPath(warnings ? `logs/${warnings.logid}` : null)
  }

  override render() {
    const lines = this.log.lines
    if (!this.log.log || !lines.length) return nothing
    return html`<details class="card" open aria-label="evaluation warnings">
      <summary>${lines.length} evaluation warning line${lines.length === 1 ? '' : 's'}</summary>
      <pre class="mono" style="white-space: pre-wrap; max-height: 14rem; overflow: auto; margin: .5rem 0 0">${lines.slice(0, 500).map((l) => l.text).join('\n')}</pre>
    </details>`
  }
}

customElements.define('bb-eval-warnings', BbEvalWarnings)
