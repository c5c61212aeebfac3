/** One child buildset to add from a Trigger-like step. */
export interface TriggerRequest {
  scheduler: string
  properties?: Record<string, unknown>
  /** Reason shown on the buildset (default: `Triggered from <builder>`). */
  reason?: string
  priority?: number
  /** Override source stamps (default: the parent build's). */
  sourcestamps?: { branch?: string | null; revision?: string | null; repository?: string; codebase?: string; project?: string }[]
}
export interface TriggeredBuildset { bsid: number; brids: Record<number, number>; scheduler: string }
