/** The App permission a route needs, in the words of the App's settings page. */
export function permissionFor(method: string, url: string): string {
  const path = url.replace(/^https?:\/\/[^/]+(\/api\/v3)?/, '').split('?')[0]!
  const write = method !== 'GET' && method !== 'HEAD'
  if (/\/statuses\//.test(path)) return 'Repository permissions > Commit statuses: Read and write'
  if (/\/check-runs|\/check-suites/.test(path)) return 'Repository permissions > Checks: Read and write'
  if (/\/hooks/.test(path)) return 'Repository permissions > Webhooks: Read and write'
  if (/^\/orgs\/[^/]+\/members/.test(path)) return 'Organization permissions > Members: Read-only'
  if (/\/collaborators/.test(path)) return 'Repository permissions > Metadata: Read-only'
  if (/\/(contents|git|commits|pulls)/.test(path)) return `Repository permissions > Contents: ${write ? 'Read and write' : 'Read-only'}`
  return 'Repository permissions > Metadata: Read-only'
}

/** A 403 that says the installation lacks a permission (not a rate limit). */
export function isMissingPermission(err: unknown): boolean {
  const e = err as { status?: number; message?: string; response?: { headers?: Record<string, string> } }
  return e?.status === 403 && /not accessible by integration|permission/i.test(e.message ?? '') && e.response?.headers?.['x-ratelimit-remaining'] !== '0'
}
