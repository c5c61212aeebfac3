/** A place store paths are pushed to: Cachix, niks3, Attic, or any Nix store. */
export interface BinaryCache {
  /** Stable key of the cache (`cachix:<name>`, `nix:<url>`, …): queue rows are stored under it. */
  readonly id: string
  /** What the UI and step names call it (`cachix my-cache`). */
  readonly label: string
  /**
   * Which of `paths` the cache lacks. Absent when the tool skips what the cache has by itself
   * (`cachix push`, `niks3 push` and `attic push` ask their server first).
   */
  missing?(paths: string[], signal: AbortSignal): Promise<string[]>
  /** Pushes the paths (and their closures); throws a `PushError` saying why it failed. */
  push(paths: string[], signal: AbortSignal): Promise<void>
}

/** A push that failed: the tool's message, shown in the build's log and the cache's state. */
export class PushError extends Error {
  constructor(message: string, readonly permanent = false) {
    super(message)
    this.name = 'PushError'
  }
}
