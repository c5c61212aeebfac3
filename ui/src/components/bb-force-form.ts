import { LitElement, html, nothing, type TemplateResult } from 'lit'
import { ContextConsumer } from '@lit/context'
import { apiContext, configContext } from '../api/context.ts'
import { permission } from '../api/frontend-config.ts'
import { followHref } from '../router/route.ts'
import { sharedStyles } from './shared-styles.ts'

export interface FieldSpec {
  name: string
  fullName: string | null
  label?: string
  type: string
  default?: unknown
  required?: boolean
  hide?: boolean
  choices?: string[]
  multiple?: boolean
  fields?: FieldSpec[]
  tooltip?: string
}

export interface ForceScheduler {
  name: string
  button_name: string
  label: string
  builder_names: string[]
  enabled: boolean
  all_fields: FieldSpec[]
}

/** The form of one force scheduler, built from its `all_fields`; POSTs `force` with one key per `fullName`. */
export class BbForceForm extends LitElement {
  static override properties = {
    scheduler: { attribute: false }, builderid: { type: Number },
    open: { state: true }, message: { state: true }, failed: { state: true }, busy: { state: true },
  }
  static override styles = [sharedStyles]
  declare scheduler: ForceScheduler
  declare builderid: number
  declare open: boolean
  declare message: string
  declare failed: boolean
  declare busy: boolean
  private readonly api = new ContextConsumer(this, { context: apiContext })
  private readonly config = new ContextConsumer(this, { context: configContext, subscribe: true })

  constructor() {
    super()
    this.open = false
    this.message = ''
    this.failed = false
    this.busy = false
  }

  override render() {
    const perm = permission(this.config.value ?? {}, 'force')
    const s = this.scheduler
    return html`
      <div class="row">
        <button type="button" class="primary" ?disabled=${!perm.allowed || !s.enabled}
          aria-expanded=${this.open ? 'true' : 'false'} aria-label="${s.button_name || s.label} (force ${s.name})"
          title=${perm.reason ?? nothing} @click=${() => { this.open = !this.open }}>${s.button_name || s.label || s.name}</button>
        ${!perm.allowed ? html`<span class="muted">${perm.reason}</span>` : nothing}
        ${this.message ? html`<span class=${this.failed ? 'error' : 'muted'} role="alert">${this.message}</span>` : nothing}
      </div>
      ${this.open && perm.allowed ? html`<form class="card" @submit=${this.submit} aria-label="force ${s.name}">
        ${s.all_fields.map((f) => this.renderField(f))}
        <div class="row"><button class="primary" type="submit" ?disabled=${this.busy}>Start build</button>
          <button type="button" @click=${() => { this.open = false }}>Cancel</button></div>
      </form>` : nothing}`
  }

  private renderField(f: FieldSpec): TemplateResult | typeof nothing {
    if (f.hide) return nothing
    if (f.type === 'nested') {
      const inner = (f.fields ?? []).map((c) => this.renderField(c))
      return f.label ? html`<fieldset><legend>${f.label}</legend>${inner}</fieldset>` : html`${inner}`
    }
    const id = `f-${f.fullName}`
    const label = html`<label for=${id}>${f.label || f.name}${f.required ? ' *' : ''}</label>`
    const value = f.default == null ? '' : String(f.default)
    let input: TemplateResult
    switch (f.type) {
      case 'bool':
        input = html`<input id=${id} name=${f.fullName ?? ''} type="checkbox" ?checked=${!!f.default}>`
        break
      case 'list':
        input = html`<select id=${id} name=${f.fullName ?? ''} ?multiple=${!!f.multiple}>
          ${(f.choices ?? []).map((c) => html`<option ?selected=${c === value}>${c}</option>`)}</select>`
        break
      case 'textarea':
        input = html`<textarea id=${id} name=${f.fullName ?? ''} .value=${value}></textarea>`
        break
      case 'fixed':
        input = html`<input id=${id} name=${f.fullName ?? ''} .value=${value} readonly>`
        break
      default:
        input = html`<input id=${id} name=${f.fullName ?? ''} type=${f.type === 'int' ? 'number' : 'text'}
          .value=${value} ?required=${!!f.required} title=${f.tooltip ?? nothing}>`
    }
    return html`<div class="row" style="margin: .3rem 0">${label}${input}</div>`
  }

  private async submit(ev: Event): Promise<void> {
    ev.preventDefault()
    const form = ev.target as HTMLFormElement
    const params: Record<string, unknown> = { builderid: String(this.builderid) }
    for (const el of Array.from(form.elements) as HTMLInputElement[]) {
      if (!el.name) continue
      if (el.type === 'checkbox') params[el.name] = el.checked
      else if (el instanceof HTMLSelectElement && el.multiple) params[el.name] = Array.from(el.selectedOptions).map((o) => o.value)
      else params[el.name] = el.value
    }
    this.busy = true
    try {
      const result = await this.api.value!.control(`forceschedulers/${this.scheduler.name}`, 'force', params)
      this.failed = false
      this.message = 'Build requested'
      this.open = false
      this.dispatchEvent(new CustomEvent('forced', { detail: result, bubbles: true, composed: true }))
      // One builder forced: its request's page, which opens the build once it starts.
      const next = followHref(result)
      if (next) location.hash = next
    } catch (err) {
      this.failed = true
      this.message = (err as Error).message
    } finally {
      this.busy = false
    }
  }
}

customElements.define('bb-force-form', BbForceForm)
