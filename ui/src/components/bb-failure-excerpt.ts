import { LitElement, html, css, nothing } from 'lit'
import { ContextConsumer } from '@lit/context'
import { apiContext } from '../api/context.ts'
import { parseLogChunk, type LogLine } from '../controllers/log-lines.ts'
import { sharedStyles } from './shared-styles.ts'

const TAIL = 30
const ERROR = /\berror\b|\bfailed\b|FAILED|panicked|Traceback|exit (status|code) [1-9]/i

/**
 * The error in one click: for a failed step, the first error line (a link that opens the log at
 * that line) and the last lines of its log, read once the step has failed.
 */
export class BbFailureExcerpt extends LitElement {
  static override properties = { buildid: { type: Number }, step: { type: Number }, lines: { state: true }, first: { state: true } }
  static override styles = [sharedStyles, css`
    pre { background: var(--log-bg); border: 1px solid var(--border); border-radius: 4px; padding: .5rem; margin: .25rem 0;
      font-family: var(--mono); font-size: .8rem; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 24rem; overflow-y: auto; }
    .e { color: var(--failure); }
  `]
  declare buildid: number
  declare step: number
  declare lines: { n: number; line: LogLine }[]
  declare first: { n: number; text: string } | null
  private readonly api = new ContextConsumer(this, { context: apiContext })
  private loadedFor = ''

  constructor() {
    super()
    this.lines = []
    this.first = null
  }

  override updated(): void {
    const key = `${this.buildid}/${this.step}`
    const client = this.api.value
    if (!client || key === this.loadedFor) return
    this.loadedFor = key
    void (async () => {
      try {
        const log = (await client.get(`builds/${this.buildid}/steps/${this.step}/logs/stdio`)).items[0] as { logid: number; num_lines: number; type: string } | undefined
        if (!log || !log.num_lines) return
        const all = parseLogChunk(((await client.get(`logs/${log.logid}/contents`)).items[0] as { content: string }).content, log.type)
        const firstIdx = all.findIndex((l) => l.stream !== 'h' && ERROR.test(l.text))
        this.first = firstIdx === -1 ? null : { n: firstIdx + 1, text: all[firstIdx]!.text }
        const from = Math.max(0, all.length - TAIL)
        this.lines = all.slice(from).map((line, i) => ({ n: from + i + 1, line }))
      } catch { /* the log may be gone; the steps table still links it */ }
    })()
  }

  override render() {
    if (!this.lines.length) return nothing
    const href = (n: number) => `#/builds/${this.buildid}/steps/${this.step}/logs/stdio?line=${n}`
    return html`<section class="card" aria-label="failure" data-testid="failure-excerpt">
      ${this.first ? html`<p>First error, <a href=${href(this.first.n)} data-testid="first-error">line ${this.first.n}</a>:
        <code class="e">${this.first.text}</code></p>` : nothing}
      <div class="muted">Last ${this.lines.length} lines of the log (<a href=${href(this.lines.at(-1)!.n)}>open the log</a>):</div>
      <pre>${this.lines.map(({ line }) => html`<span class=${line.stream === 'e' ? 'e' : ''}>${line.text}</span>\n`)}</pre>
    </section>`
  }
}

customElements.define('bb-failure-excerpt', BbFailureExcerpt)
