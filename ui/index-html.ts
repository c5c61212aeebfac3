/** The placeholder the master replaces with `<script id="bb-config">window.buildbotFrontendConfig = {...};</script>`. */
export const CONFIG_PLACEHOLDER = '<!-- BUILDBOT_CONFIG_PLACEHOLDER -->'

/**
 * index.html of the UI. Theme colours are CSS variables here so every shadow root inherits
 * them; `prefers-color-scheme` switches them.
 */
export function indexHtml(opts: { css: boolean }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>buildbot-nix</title>
<style>
:root {
  --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --panel: #f6f8fa; --border: #d1d9e0; --link: #0969da;
  --focus: #0969da; --log-bg: #fbfbfc; --selected: #fff3b0; --match: #ffd8a8;
  --success: #1a7f37; --warnings: #d4a72c; --failure: #cf222e; --failure-bg: #ffebe9; --exception: #8250df;
  --skipped: #6e7781; --retry: #bc4c00; --cancelled: #953800; --running: #0969da; --pending: #8c959f;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --panel: #161b22; --border: #30363d; --link: #4493f8;
    --focus: #4493f8; --log-bg: #010409; --selected: #3b3000; --match: #5a3b00;
    --success: #2ea043; --warnings: #d29922; --failure: #f85149; --failure-bg: #3c1618; --exception: #a371f7;
    --skipped: #6e7681; --retry: #db6d28; --cancelled: #bd561d; --running: #1f6feb; --pending: #6e7681;
  }
}
html, body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
</style>
${opts.css ? '<link rel="stylesheet" href="app.css">\n' : ''}${CONFIG_PLACEHOLDER}
<script type="module" src="app.js"></script>
</head>
<body><noscript>This page needs JavaScript.</noscript></body>
</html>
`
}
