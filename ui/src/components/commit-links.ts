import { html, nothing, type TemplateResult } from 'lit'
import { forgeLinks, type ForgeSource } from '../util/forge-links.ts'

/** A commit (short) and a branch, each linked to the forge when its shape is known. */
export function commitLinks(src: ForgeSource, revision: unknown, branch: unknown): TemplateResult {
  const links = forgeLinks(src, revision, branch)
  const rev = typeof revision === 'string' && revision ? revision.slice(0, 12) : ''
  const br = typeof branch === 'string' && branch ? branch.replace(/^refs\/heads\//, '') : ''
  return html`${rev ? (links.commit ? html`<a class="mono" data-testid="commit-link" href=${links.commit} title=${String(revision)}>${rev}</a>` : html`<span class="mono" title=${String(revision)}>${rev}</span>`) : nothing}
    ${br ? (links.branch ? html`<a data-testid="branch-link" href=${links.branch}>${br}</a>` : html`<span>${br}</span>`) : nothing}`
}
