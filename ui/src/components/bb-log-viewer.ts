import { LitElement, html, css, nothing, type PropertyValues } from 'lit'
import { unsafeHTML } from 'lit/directives/unsafe-html.js'
import { AnsiUp } from 'ansi_up'
import type { LitVirtualizer } from '@lit-labs/virtualizer'
import '@lit-labs/virtualizer'
import type { LogLine } from '../controllers/log-lines.ts'
import type { LogEntity } from '../controllers/log-controller.ts'
import { sharedStyles } from './shared-styles.ts'

/**
 * A virtualized log: line numbers that are permalinks, ANSI colours, search with next/previous,
 * follow mode (stays at the end while lines arrive) and a raw download link.
 */
export class BbLogViewer extends LitElement {
  static override properties = {
    lines: { attribute: false }, log: { attribute: false }, hrefBase: {}, rawUrl: {}, line: { type: Number },
    query: { state: true }, matchIndex: { state: true }, following: { state: true },
  }
  static override styles = [sharedStyles, css`
    .log { height: 70vh; border: 1px solid var(--border); border-radius: 4px; background: var(--log-bg);
      font-family: var(--mono); font-size: .8rem; }
    .line { display: flex; width: 100%; white-space: pre-wrap; word-break: break-all; line-height: 1.35; }
    .line.selected { background: var(--selected); }
    .line.match { background: var(--match); }
    .line.hit { background: var(--panel); }
    mark { background: var(--match); color: inherit; border-radius: 2px; }
    .line.match mark { outline: 2px solid var(--focus); }
    .ln { flex: 0 0 4.5rem; text-align: right; padding-right: .75rem; color: var(--muted); text-decoration: none; user-select: none; }
    .text { flex: 1; min-width: 0; }
    .e { color: var(--failure); }
    .h { color: var(--muted); }
    .toolbar { margin-bottom: .5rem; }
    @media (max-width: 640px) { .ln { flex-basis: 3rem; padding-right: .4rem; } .log { height: 75vh; } }
  `]
  declare lines: LogLine[]
  declare log: LogEntity | null
  declare hrefBase: string
  declare rawUrl: string
  declare line: number | null
  declare query: string
  declare matchIndex: number
  declare following: boolean
  private hits: number[] = []
  private scrolledToLine: number | null = null
  /** Follow starts on for a running log, once; after that it is the reader's choice. */
  private followDecided = false
  /** Scrolls this viewer makes itself (following, jumping to a match) are not the reader's. */
  private programmaticUntil = 0
  private lastScrollTop = 0

  constructor() {
    super()
    this.lines = []
    this.log = null
    this.line = null
    this.query = ''
    this.matchIndex = 0
    this.following = false
  }

  private get virtualizer(): LitVirtualizer | null {
    return this.renderRoot.querySelector('lit-virtualizer')
  }

  override willUpdate(changed: PropertyValues<this>): void {
    if (!this.followDecided && this.log) {
      this.followDecided = true
      // A running log is read at its end; a finished one from its first line (or the permalink).
      if (!this.log.complete && !this.line) this.following = true
    }
    if (changed.has('query') || changed.has('lines')) {
      const q = this.query.toLowerCase()
      this.hits = q ? this.lines.flatMap((l, i) => (l.text.toLowerCase().includes(q) ? [i] : [])) : []
      if (this.matchIndex >= this.hits.length) this.matchIndex = 0
    }
  }

  override updated(changed: PropertyValues<this>): void {
    if (this.following && changed.has('lines') && this.lines.length) void this.scrollToLine(this.lines.length - 1, 'end')
    // Jump to the permalinked line once it has been loaded.
    if (this.line && this.line !== this.scrolledToLine && this.lines.length >= this.line) {
      this.scrolledToLine = this.line
      void this.scrollToLine(this.line - 1, 'center')
    }
  }

  /** The virtualizer can only scroll once it has laid out the new items. */
  private async scrollToLine(index: number, block: ScrollLogicalPosition): Promise<void> {
    this.programmaticUntil = performance.now() + 1000
    await this.updateComplete
    for (let attempt = 0; attempt < 5; attempt++) {
      const v = this.virtualizer
      if (!v) return
      await v.updateComplete
      // New items are laid out on the next frames; scrolling before that targets the old layout.
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))
      try {
        this.programmaticUntil = performance.now() + 300
        v.element(index)?.scrollIntoView({ block })
        this.lastScrollTop = v.scrollTop
        return
      } catch {
        // Not laid out yet; `layoutComplete` only settles when a layout is pending, so cap the wait.
        await Promise.race([v.layoutComplete, new Promise((r) => setTimeout(r, 100))])
      }
    }
  }

  override render() {
    const current = this.hits.length ? this.hits[this.matchIndex] : -1
    const matchSet = this.query ? new Set(this.hits) : null
    const log = this.log
    return html`
      <div class="row toolbar" role="toolbar" aria-label="log tools">
        <label class="sr-only" for="search">Search in log</label>
        <input id="search" type="search" placeholder="Search in log" aria-label="Search in log" .value=${this.query}
          @input=${(e: Event) => { this.query = (e.target as HTMLInputElement).value; this.matchIndex = 0; this.jumpToMatch() }}
          @keydown=${(e: KeyboardEvent) => { if (e.key === 'Enter') this.step(e.shiftKey ? -1 : 1) }}>
        <span class="muted" aria-live="polite" data-testid="match-count">${this.query ? `${this.hits.length ? this.matchIndex + 1 : 0} / ${this.hits.length}` : ''}</span>
        <button type="button" aria-label="Previous match" ?disabled=${!this.hits.length} @click=${() => this.step(-1)}>↑</button>
        <button type="button" aria-label="Next match" ?disabled=${!this.hits.length} @click=${() => this.step(1)}>↓</button>
        <label><input type="checkbox" .checked=${this.following} aria-label="Follow the log"
          @change=${(e: Event) => {
            this.following = (e.target as HTMLInputElement).checked
            if (this.following && this.lines.length) void this.scrollToLine(this.lines.length - 1, 'end')
          }}> Follow</label>
        <a class="button" href=${this.rawUrl} download aria-label="Download raw log">Raw</a>
        <span class="muted" data-testid="line-count">${this.lines.length} lines${log && !log.complete ? ' (running)' : ''}</span>
      </div>
      <lit-virtualizer class="log" scroller role="log" aria-label="log ${log?.name ?? ''}" tabindex="0"
        @scroll=${this.onScroll} @wheel=${this.onReaderScroll} @touchmove=${this.onReaderScroll}
        @keydown=${(e: KeyboardEvent) => { if (['ArrowUp', 'PageUp', 'Home'].includes(e.key)) this.stopFollowing() }}
        .items=${this.lines}
        .renderItem=${(l: LogLine, i: number) => html`<div class="line ${i + 1 === this.line ? 'selected' : ''} ${i === current ? 'match' : matchSet?.has(i) ? 'hit' : ''}" data-line=${i + 1}>
          <a class="ln" href="${this.hrefBase}?line=${i + 1}" aria-label="line ${i + 1}">${i + 1}</a>
          <span class="text ${l.stream}">${matchSet?.has(i) && !l.text.includes('\x1b[') ? highlight(l.text, this.query) : renderAnsi(l.text)}</span></div>`}
      ></lit-virtualizer>`
  }

  /** Scrolling up, by the reader, ends following: the log must not pull them back to the end. */
  private onScroll(e: Event): void {
    const el = e.currentTarget as HTMLElement
    const up = el.scrollTop < this.lastScrollTop - 1
    this.lastScrollTop = el.scrollTop
    if (up && performance.now() > this.programmaticUntil) this.stopFollowing()
  }

  private onReaderScroll(e: Event): void {
    if (e instanceof WheelEvent && e.deltaY >= 0) return
    this.programmaticUntil = 0
    this.stopFollowing()
  }

  private stopFollowing(): void {
    if (this.following) this.following = false
  }

  private step(delta: number): void {
    if (!this.hits.length) return
    this.matchIndex = (this.matchIndex + delta + this.hits.length) % this.hits.length
    this.jumpToMatch()
  }

  private jumpToMatch(): void {
    void this.updateComplete.then(() => {
      if (this.hits.length) void this.scrollToLine(this.hits[this.matchIndex], 'center')
    })
  }
}

/** The line's text with each occurrence of `query` marked (lines with colours keep them and are highlighted whole). */
function highlight(plain: string, query: string) {
  const lower = plain.toLowerCase()
  const q = query.toLowerCase()
  const parts: unknown[] = []
  let at = 0
  for (let i = lower.indexOf(q); q && i !== -1; i = lower.indexOf(q, i + q.length)) {
    parts.push(plain.slice(at, i), html`<mark>${plain.slice(i, i + q.length)}</mark>`)
    at = i + q.length
  }
  parts.push(plain.slice(at))
  return parts
}

/** Only lines with an escape go through ansi_up; it escapes HTML, so the result is safe to inline. */
function renderAnsi(text: string) {
  if (!text.includes('\x1b[')) return text
  return unsafeHTML(new AnsiUp().ansi_to_html(text))
}

customElements.define('bb-log-viewer', BbLogViewer)
