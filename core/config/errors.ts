/** One configuration mistake: where, what, and how to fix it. */
export interface ConfigIssue { path: string; message: string; owner?: string }

/** Collects every mistake so they are all reported at once. */
export class ConfigErrors {
  readonly issues: ConfigIssue[] = []
  add(path: string, message: string, owner?: string): void { this.issues.push({ path, message, owner }) }
  get empty(): boolean { return this.issues.length === 0 }
  format(file: string): string[] {
    return this.issues.map((i) => `${file}: ${i.owner ? `[plugin ${i.owner}] ` : ''}${i.path ? i.path + ': ' : ''}${i.message}`)
  }
}

export class ConfigError extends Error {
  constructor(readonly file: string, readonly issues: ConfigIssue[], readonly lines: string[]) {
    super(`${lines.length} configuration error${lines.length === 1 ? '' : 's'}:\n${lines.join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** The closest name, for "did you mean" hints. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  for (const c of candidates) {
    const d = distance(name, c)
    if (d < bestD) { bestD = d; best = c }
  }
  if (best != null && bestD <= Math.max(2, Math.floor(name.length / 3))) return best
  // A shortened or lengthened name (`evalWorkers` for `evalWorkerCount`): the one candidate sharing most of its start.
  const common = (a: string, b: string) => { let i = 0; while (i < a.length && i < b.length && a[i] === b[i]) i++; return i }
  const lower = name.toLowerCase()
  const scored = [...candidates].map((c) => ({ c, n: common(lower, c.toLowerCase()) })).sort((x, y) => y.n - x.n)
  const top = scored[0]
  return top && top.n >= Math.max(4, Math.ceil(name.length * 0.6)) && scored[1]?.n !== top.n ? top.c : undefined
}

export const didYouMean = (name: string, candidates: Iterable<string>) => {
  const c = closest(name, candidates)
  return c ? ` (did you mean '${c}'?)` : ''
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!
    dp[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return dp[b.length]!
}
