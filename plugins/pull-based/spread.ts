/**
 * Seconds before each repository's first poll: the repositories, by name, evenly over `spread`
 * seconds, so a master with many repositories does not poll them all at once (and later polls,
 * one interval apart, stay spread).
 */
export function pollOffsets(names: readonly string[], spread: number): Map<string, number> {
  const sorted = [...names].sort()
  return new Map(sorted.map((n, i) => [n, sorted.length ? Math.floor((i * spread * 1000) / sorted.length) / 1000 : 0]))
}
