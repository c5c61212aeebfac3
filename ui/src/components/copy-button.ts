import { html, type TemplateResult } from 'lit'

/** A button that copies `text` to the clipboard and says so; `label` names what it copies. */
export function copyButton(text: string, label: string): TemplateResult {
  const copy = async (ev: Event) => {
    const button = ev.currentTarget as HTMLButtonElement
    try {
      await navigator.clipboard.writeText(text)
      button.textContent = 'Copied'
    } catch {
      // No clipboard (plain HTTP, denied): select the text so the reader can copy it by hand.
      const code = button.previousElementSibling
      if (code) getSelection()?.selectAllChildren(code)
      button.textContent = 'Selected'
    }
  }
  return html`<button type="button" class="copy" aria-label=${label} title=${label} data-copy=${text} @click=${copy}>Copy</button>`
}
