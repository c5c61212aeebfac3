import { LitElement, html } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'

/** Links to the logs of one step (`steps/<stepid>/logs`, live: logs appear while it runs). */
export class BbStepLogs extends LitElement {
  static override properties = { stepid: { type: Number }, buildid: { type: Number }, number: { type: Number } }
  static override styles = [sharedStyles]
  declare stepid: number
  declare buildid: number
  declare number: number
  private readonly logs = new ResourceController(this, { path: null })

  override willUpdate(): void {
    this.logs.setPath(`steps/${this.stepid}/logs`)
  }

  override render() {
    return html`<span class="row">${this.logs.items.map((l) => html`<a
      href="#/builds/${this.buildid}/steps/${this.number}/logs/${l.slug}" aria-label="log ${l.name} of step ${this.number}">${l.name}</a>
      <span class="muted">(${l.num_lines})</span>`)}</span>`
  }
}

customElements.define('bb-step-logs', BbStepLogs)
