import { OAuth2Server } from 'oauth2-mock-server'

/** A person the identity provider signs in; `groups` go into the OIDC `groups` claim. */
export interface IdpUser { sub: string; preferred_username: string; email: string; name: string; groups?: string[] }

export interface Idp {
  /** The issuer URL (`<url>/.well-known/openid-configuration` is its discovery document). */
  url: string
  /** Who the next authorisation approves (read when the browser reaches `/authorize`). */
  nextUser: IdpUser
  /** Codes redeemed at the token endpoint, in order. */
  redeemed: string[]
  close(): Promise<void>
}

/**
 * `oauth2-mock-server` on loopback: a real OAuth2/OIDC server (discovery, JWKS, PKCE checks,
 * signed ID tokens). Each authorisation approves `nextUser` at once; its code is bound to that user,
 * whose claims go into the tokens and the userinfo answer.
 */
export async function startIdp(first: IdpUser): Promise<Idp> {
  const server = new OAuth2Server()
  await server.issuer.keys.generate('RS256')
  await server.start(0, '127.0.0.1')
  const byCode = new Map<string, IdpUser>()
  const byToken = new Map<string, IdpUser>()
  const idp: Idp = { url: server.issuer.url!.replace(/\/$/, ''), nextUser: first, redeemed: [], close: () => server.stop() }
  server.service.on('beforeAuthorizeRedirect', ({ url }: { url: URL }) => {
    const code = url.searchParams.get('code')
    if (code) byCode.set(code, idp.nextUser)
  })
  server.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }, req: { body?: Record<string, string> }) => {
    const u = req.body?.code ? byCode.get(req.body.code) : undefined
    if (u) Object.assign(token.payload, { ...u, groups: u.groups ?? [] })
  })
  server.service.on('beforeResponse', (res: { body: Record<string, unknown>; statusCode: number }, req: { body?: Record<string, string> }) => {
    const code = req.body?.code
    const u = code ? byCode.get(code) : undefined
    if (code && res.statusCode === 200) idp.redeemed.push(code)
    if (u && typeof res.body.access_token === 'string') byToken.set(res.body.access_token, u)
  })
  server.service.on('beforeUserinfo', (res: { body: Record<string, unknown> }, req: { headers: Record<string, string | undefined> }) => {
    const u = byToken.get((req.headers.authorization ?? '').replace(/^Bearer\s+/i, ''))
    if (u) res.body = { ...u, groups: u.groups ?? [] }
  })
  return idp
}

/** The user an access token of this identity provider was issued to (its `sub` claim), without verifying it. */
export function subjectOf(accessToken: string): string | undefined {
  try { return JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')).sub } catch { return undefined }
}
