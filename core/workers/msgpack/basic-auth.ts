const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * `Authorization: Basic base64(name:password)` as the worker sends it. `missing` maps to HTTP
 * 401 and `invalid` (not Basic, bad base64 or UTF-8, no colon) to 400. The password may contain
 * colons; the name may not.
 */
export function parseBasicAuth(header: string | undefined): { name: string; password: string } | 'missing' | 'invalid' {
  if (header === undefined || header === '') return 'missing'
  const m = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/.exec(header)
  if (!m) return 'invalid'
  let text: string
  try {
    text = utf8.decode(Buffer.from(m[1]!, 'base64'))
  } catch {
    return 'invalid'
  }
  const colon = text.indexOf(':')
  if (colon < 0) return 'invalid'
  return { name: text.slice(0, colon), password: text.slice(colon + 1) }
}
