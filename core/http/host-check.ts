import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { fnmatch } from './authz/fnmatch.ts'

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1']
const WILDCARD_BINDS = new Set(['0.0.0.0', '::', ''])

/** The host name of a `Host` header: lower case, port and IPv6 brackets removed. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase()
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined)
  const colon = h.lastIndexOf(':')
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h
}

/**
 * The names a master answers to: the host of `buildbotURL`, `www.host` (unless it is a wildcard
 * bind), `www.allowedHosts` (globs), and the loopback names when it listens on loopback or on all
 * interfaces, plus the machine's own addresses on all interfaces. Anything else in `Host` is a
 * name the master does not know, e.g. an attacker's domain re-pointed at 127.0.0.1 (DNS rebinding).
 */
export function allowedHostNames(opts: { buildbotURL: string; host: string; allowedHosts?: readonly string[]; interfaceAddresses?: () => string[] }): string[] {
  const out = new Set<string>()
  try { out.add(hostName(new URL(opts.buildbotURL).host)) } catch { /* resolve checks the URL */ }
  const bind = opts.host.toLowerCase()
  if (!WILDCARD_BINDS.has(bind)) out.add(hostName(bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind))
  if (WILDCARD_BINDS.has(bind) || LOOPBACK_NAMES.includes(bind) || /^127\./.test(bind)) for (const n of LOOPBACK_NAMES) out.add(n)
  if (WILDCARD_BINDS.has(bind)) for (const a of (opts.interfaceAddresses ?? ownAddresses)()) out.add(a.toLowerCase())
  for (const h of opts.allowedHosts ?? []) out.add(h.toLowerCase())
  return [...out]
}

/** Undefined when the request's `Host` is one of `allowed`; else the reason to refuse it. */
export function hostRefusal(header: string | undefined, allowed: readonly string[]): { status: number; message: string } | undefined {
  if (!header) return { status: 400, message: 'a Host header is required' }
  const name = hostName(header)
  if (allowed.some((a) => a === name || (/[*?[]/.test(a) && fnmatch(name, a)))) return undefined
  // Loopback addresses by number cannot be a rebound name.
  if (isIP(name) && (name === '::1' || /^127\./.test(name)) && allowed.includes('127.0.0.1')) return undefined
  return {
    status: 421,
    message: `this master does not answer to the host name '${name}' (it answers to ${allowed.map((a) => `'${a}'`).join(', ')}); ` +
      'if that is one of its names, add it to www.allowedHosts',
  }
}

/** The addresses of this machine's interfaces (an IP literal in `Host` cannot be a rebound name). */
function ownAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')))
}
