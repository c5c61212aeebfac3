import { css } from 'lit'

/**
 * Styles every page shares. Colours are CSS variables set in index.html, so the light and dark
 * themes follow `prefers-color-scheme` across shadow roots.
 */
export const sharedStyles = css`
  :host { display: block; color: var(--fg); }
  a { color: var(--link); }
  a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, [tabindex]:focus-visible {
    outline: 2px solid var(--focus); outline-offset: 2px;
  }
  h1 { font-size: 1.4rem; margin: 0 0 .75rem; }
  h2 { font-size: 1.1rem; margin: 1.25rem 0 .5rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--border); vertical-align: top; }
  th { font-weight: 600; color: var(--muted); font-size: .85rem; }
  .muted { color: var(--muted); }
  .error { color: var(--failure); background: var(--failure-bg); padding: .5rem .75rem; border-radius: 4px; }
  .notice { background: var(--panel); padding: .5rem .75rem; border-radius: 4px; }
  .badge {
    display: inline-block; padding: .05rem .45rem; border-radius: 3px; font-size: .8rem;
    font-weight: 600; color: #fff; background: var(--pending); white-space: nowrap;
  }
  .badge.success { background: var(--success); }
  .badge.warnings { background: var(--warnings); color: #000; }
  .badge.failure, .badge.failed, .badge.eval-failed, .badge.dependency-failed, .badge.cached-failure { background: var(--failure); }
  .badge.exception { background: var(--exception); }
  .badge.skipped, .badge.unsupported-system { background: var(--skipped); }
  .badge.retry, .badge.interrupted { background: var(--retry); }
  .badge.cancelled { background: var(--cancelled); }
  .badge.running, .badge.building { background: var(--running); }
  button, .button {
    font: inherit; font-size: .9rem; padding: .3rem .7rem; border-radius: 4px; cursor: pointer;
    border: 1px solid var(--border); background: var(--panel); color: var(--fg); text-decoration: none;
  }
  button.primary { background: var(--link); color: var(--bg); border-color: var(--link); }
  button:disabled { opacity: .55; cursor: not-allowed; }
  input, select, textarea {
    font: inherit; padding: .3rem .5rem; border-radius: 4px; border: 1px solid var(--border);
    background: var(--bg); color: var(--fg);
  }
  .row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
  .cards { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fill, minmax(18rem, 1fr)); }
  .card { border: 1px solid var(--border); border-radius: 6px; padding: .75rem; background: var(--panel); }
  .mono { font-family: var(--mono); font-size: .85rem; }
  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  @media (max-width: 640px) {
    .hide-narrow { display: none; }
    /* Wide tables scroll sideways instead of widening the page. */
    table { display: block; overflow-x: auto; }
    th, td { padding: .3rem .25rem; }
  }
`
