import { html, type TemplateResult } from 'lit'
import { resultName } from '../util/format.ts'

/** The coloured result of a build, step or request, with its name for screen readers too. */
export function resultBadge(results: unknown, complete = true): TemplateResult {
  const name = resultName(results, complete)
  return html`<span class="badge ${name}" role="status" aria-label="result ${name}">${name}</span>`
}

export function stateBadge(state: string): TemplateResult {
  return html`<span class="badge ${state}" aria-label="state ${state}">${state}</span>`
}
