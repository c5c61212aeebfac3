import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { HttpSurface, UserInfo } from './master-surface.ts'
import { userCan } from './authz/authz.ts'
import { authName } from './auth/auth-routes.ts'
import { identify, type AuthState, type Identity } from './auth/auth-state.ts'

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.txt': 'text/plain; charset=utf-8',
}
const PLACEHOLDER = '<!-- BUILDBOT_CONFIG_PLACEHOLDER -->'
const NOT_BUILT = '<!doctype html><meta charset="utf-8"><title>buildbot-nix</title><p>The web UI is not built. The API is at <a href="api/v2">api/v2</a>.</p>'

/**
 * The object served at `/config` and injected into index.html as `window.buildbotFrontendConfig`.
 * `auth.provider`/`label`/`kind` tell the UI which sign-in to offer (`kind: 'form'` = its login
 * form); `csrf_token` is the session's proof for control requests (`X-CSRF-Token`).
 */
export async function frontendConfig(surface: HttpSurface, state: AuthState, id: Identity): Promise<Record<string, unknown>> {
  const { authz, provider } = state
  const user: UserInfo = id.user
  const auth: Record<string, unknown> = { name: authName(state.www) }
  if (provider) Object.assign(auth, { provider: provider.name, label: provider.label, kind: provider.login.kind, oauth2: provider.login.kind === 'redirect' })
  if (provider?.apiTokens) auth.api_tokens = true
  return {
    title: surface.title, titleURL: surface.buildbotURL, buildbotURL: surface.buildbotURL, multiMaster: false,
    port: state.www.port, plugins: {}, auth, authz: {}, avatar_methods: { name: 'gravatar' },
    versions: [['buildbot-nix', '0.1.0'], ['Node', process.version]],
    user, user_can: await userCan(authz, user),
    user_any_access_allowed: await authz.allowed({ action: 'get', endpoint: 'masters', project: null }, user),
    ...(id.via === 'cookie' ? { csrf_token: state.sessions.csrfToken(id.sid) } : {}),
  }
}

/** `/config`, `/` (index.html with the config injected) and the UI's static files. */
export function registerUiRoutes(app: FastifyInstance, opts: { surface: HttpSurface; state: () => AuthState }) {
  const { surface } = opts
  const configOf = async (req: FastifyRequest) => {
    const state = opts.state()
    const id = await identify(req, state)
    return frontendConfig(surface, state, 'error' in id ? { user: { anonymous: true }, via: 'none' } : id)
  }

  // Private to the session (user, CSRF token): never stored by a shared cache.
  app.get('/config', async (req, reply) => reply.header('cache-control', 'private, no-store')
    .header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(await configOf(req))))

  async function index(req: FastifyRequest, reply: FastifyReply) {
    const html = surface.uiDir ? await readFile(join(surface.uiDir, 'index.html'), 'utf8').catch(() => undefined) : undefined
    reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'private, no-cache')
    if (html === undefined) return reply.send(NOT_BUILT)
    // `<` escaped so no config value can close the script element.
    const json = JSON.stringify(await configOf(req)).replace(/</g, '\\u003c')
    const script = `<script id="bb-config">window.buildbotFrontendConfig = ${json};</script>`
    return reply.send(html.includes(PLACEHOLDER) ? html.replace(PLACEHOLDER, () => script) : html.replace('</head>', () => `${script}</head>`))
  }

  app.get('/', async (req, reply) => index(req, reply))
  app.get('/*', async (req, reply) => {
    const rel = decodeURIComponent(req.url.split('?')[0]!).replace(/^\/+/, '')
    const root = surface.uiDir
    if (root) {
      const file = normalize(join(root, rel))
      if (file.startsWith(normalize(root) + sep)) {
        const st = await stat(file).catch(() => undefined)
        if (st?.isFile()) {
          return reply.header('content-type', MIME[extname(file)] ?? 'application/octet-stream').send(await readFile(file))
        }
      }
    }
    // Client-side routes (no file extension) get the app; missing files a 404.
    if (!extname(rel)) return index(req, reply)
    return reply.code(404).header('content-type', 'text/plain; charset=utf-8').send('not found')
  })
}
