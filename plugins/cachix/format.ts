/** `1536` → `1.5 KiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`
}

const globRe = (g: string): RegExp => new RegExp('^' + g.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$')

/** Whether `branch` matches one of the globs (`*` = anything); no globs: every branch. */
export function branchMatches(globs: string[] | undefined, branch: string): boolean {
  return !globs || globs.some((g) => globRe(g).test(branch))
}
