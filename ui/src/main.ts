import { ApiClient } from './api/api-client.ts'
import type { FrontendConfig } from './api/frontend-config.ts'
import './components/bb-app.ts'
import type { BbApp } from './components/bb-app.ts'

/**
 * Entry point: read the config the master injected into index.html (or ask `/config` when the
 * page was served without it), create the one API client and hand both to `<bb-app>`, which
 * provides them to every page through context.
 */
async function boot(): Promise<void> {
  const baseUrl = new URL('.', document.baseURI).href
  const injected = (window as { buildbotFrontendConfig?: FrontendConfig }).buildbotFrontendConfig
  const config: FrontendConfig = injected ?? await fetch(new URL('config', baseUrl), { credentials: 'same-origin' })
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}))
  const app = document.createElement('bb-app') as BbApp
  app.client = new ApiClient({ baseUrl, csrfToken: config.csrf_token })
  // Every page subscribes before it reads: the handshake starts while the page is being built.
  app.client.ws.connect()
  app.config = config
  document.body.replaceChildren(app)
}

void boot()
