import { LitElement, html, css, nothing, type PropertyValues } from 'lit'
import { timelineStats, jobDuration, nowSeconds, FAILED_STATES, type NixJob } from '../util/matrix-model.ts'
import { formatDuration, formatEpoch } from '../util/format.ts'
import { buildHref } from '../router/route.ts'
import { sharedStyles } from './shared-styles.ts'
import { axisTicks } from '../util/axis-ticks.ts'

const MAX_HEIGHT = 320

/**
 * One bar per attribute from queued (faint) through started to finished (solid), on a canvas so
 * thousands of rows cost one draw, over a time axis from the first queued attribute. The slowest
 * attribute and the one that finished last (the end of the critical path) are outlined and named
 * below. A bar opens its attribute's build.
 */
export class BbMatrixTimeline extends LitElement {
  static override properties = { jobs: { attribute: false }, version: { type: Number }, hovered: { state: true } }
  static override styles = [sharedStyles, css`
    canvas { width: 100%; max-height: 35vh; display: block; border: 1px solid var(--border); border-radius: 4px; background: var(--log-bg); }
    canvas.link { cursor: pointer; }
    .axis { position: relative; height: 1.1rem; font-size: .75rem; color: var(--muted); margin: 0 .3rem; }
    .axis span { position: absolute; top: 0; transform: translateX(-50%); white-space: nowrap; border-left: 1px solid var(--border); padding-left: 2px; }
    .axis span:first-child { transform: none; }
    .axis span.end { transform: translateX(-100%); }
  `]
  declare jobs: NixJob[]
  declare version: number
  declare hovered: NixJob | null
  private rows: NixJob[] = []
  private frame = 0
  private later: ReturnType<typeof setTimeout> | undefined
  private readonly resize = new ResizeObserver(() => this.scheduleDraw())

  constructor() {
    super()
    this.jobs = []
    this.hovered = null
  }

  override connectedCallback(): void {
    super.connectedCallback()
    this.resize.observe(this)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.resize.disconnect()
    cancelAnimationFrame(this.frame)
    clearTimeout(this.later)
  }

  override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('jobs') || changed.has('version')) {
      this.rows = this.jobs.filter((j) => j.queued_at != null || j.started_at != null)
        .sort((a, b) => ((a.queued_at ?? a.started_at!) - (b.queued_at ?? b.started_at!)) || a.jobid - b.jobid)
    }
  }

  override updated(changed: PropertyValues<this>): void {
    if (changed.has('jobs') || changed.has('version')) this.scheduleDraw()
  }

  override render() {
    const stats = timelineStats(this.jobs)
    const height = Math.max(24, Math.min(MAX_HEIGHT, this.rows.length * 6))
    const h = this.hovered
    const span = stats.end - stats.start
    const ticks = this.rows.length ? axisTicks(span) : []
    return html`
      <canvas height=${height} style="height:${height}px" role="img" class=${h?.child_buildid ? 'link' : ''}
        aria-label="timeline of ${this.rows.length} attributes over ${formatDuration(span * 1000)}"
        @mousemove=${this.onMove} @mouseleave=${() => { this.hovered = null }} @click=${this.onClick}></canvas>
      <div class="axis" data-testid="timeline-axis" aria-label="time since the first attribute was queued">
        ${ticks.map((t, i) => {
          const pct = span > 0 ? Math.min(100, (t.offset / span) * 100) : 0
          return html`<span style="left:${pct}%" class=${i > 0 && pct > 92 ? 'end' : ''}
            title=${formatEpoch(stats.start + t.offset)}>${t.label}</span>`
        })}
      </div>
      <div class="row muted" style="font-size:.85rem; margin-top:.25rem" data-testid="timeline-stats">
        ${stats.slowest ? html`<span>Slowest: <strong>${stats.slowest.attr}</strong> (${formatDuration(jobDuration(stats.slowest))})</span>` : nothing}
        ${stats.last ? html`<span>· Finished last: <strong>${stats.last.attr}</strong> at +${formatDuration((stats.last.complete_at! - stats.start) * 1000)}</span>` : nothing}
        ${h ? html`<span>· ${h.attr}: ${h.state}, ${formatDuration(jobDuration(h))}</span>` : nothing}
      </div>`
  }

  private rowAt(ev: MouseEvent): NixJob | null {
    const rect = (ev.currentTarget as HTMLCanvasElement).getBoundingClientRect()
    const index = Math.floor((ev.clientY - rect.top) / (rect.height / Math.max(this.rows.length, 1)))
    return this.rows[index] ?? null
  }

  private onMove(ev: MouseEvent): void {
    this.hovered = this.rowAt(ev)
  }

  private onClick(ev: MouseEvent): void {
    const j = this.rowAt(ev)
    if (j?.child_buildid) location.hash = buildHref(j.child_buildid)
  }

  private scheduleDraw(): void {
    cancelAnimationFrame(this.frame)
    clearTimeout(this.later)
    // The frame after the one that shows the list: the attributes come first, their timeline next.
    this.later = setTimeout(() => { this.frame = requestAnimationFrame(() => this.draw()) }, 0)
  }

  private draw(): void {
    const canvas = this.renderRoot.querySelector('canvas')
    if (!canvas) return
    const dpr = window.devicePixelRatio || 1
    const cssWidth = canvas.clientWidth || 600
    const cssHeight = canvas.clientHeight || 24
    canvas.width = Math.round(cssWidth * dpr)
    canvas.height = Math.round(cssHeight * dpr)
    const ctx = canvas.getContext('2d')
    if (!ctx) return
    ctx.scale(dpr, dpr)
    ctx.clearRect(0, 0, cssWidth, cssHeight)
    const now = nowSeconds()
    const stats = timelineStats(this.rows, now)
    const span = stats.end - stats.start || 1
    const rowH = cssHeight / Math.max(this.rows.length, 1)
    const x = (t: number) => ((t - stats.start) / span) * cssWidth
    const style = getComputedStyle(this)
    const color = (name: string) => style.getPropertyValue(name).trim() || '#888'
    const colors: Record<string, string> = {
      success: color('--success'), building: color('--running'), pending: color('--pending'),
      cancelled: color('--cancelled'), skipped: color('--skipped'), failed: color('--failure'),
    }
    // One path per colour, filled once: thousands of rows cost a few fills, not a style change each.
    const barH = Math.max(rowH - (rowH > 3 ? 1 : 0), 0.5)
    const queued = new Path2D()
    const bars = new Map<string, Path2D>()
    this.rows.forEach((j, i) => {
      const q = j.queued_at ?? j.started_at!
      const s = j.started_at ?? now
      if (s > q) queued.rect(x(q), i * rowH, Math.max(1, x(s) - x(q)), barH)
      if (j.started_at == null) return
      const fill = FAILED_STATES.has(j.state) ? colors.failed! : colors[j.state] ?? colors.pending!
      let path = bars.get(fill)
      if (!path) bars.set(fill, path = new Path2D())
      path.rect(x(j.started_at), i * rowH, Math.max(1, x(j.complete_at ?? now) - x(j.started_at)), barH)
    })
    ctx.globalAlpha = 0.3
    ctx.fillStyle = colors.pending!
    ctx.fill(queued)
    ctx.globalAlpha = 1
    for (const [fill, path] of bars) {
      ctx.fillStyle = fill
      ctx.fill(path)
    }
    ctx.strokeStyle = color('--fg')
    ctx.lineWidth = 1.5
    for (const j of [stats.slowest, stats.last]) {
      if (!j || j.started_at == null) continue
      const i = this.rows.indexOf(j)
      ctx.strokeRect(x(j.started_at), i * rowH - 1, Math.max(2, x(j.complete_at ?? now) - x(j.started_at)), Math.max(rowH, 2) + 2)
    }
  }
}

customElements.define('bb-matrix-timeline', BbMatrixTimeline)
