import { execFileSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'

/**
 * Whether an external tool a test needs is installed. When it is missing the test is skipped
 * with the install command when run by hand, and the run fails in CI (`CI=true`).
 */
export function haveTool(command: string, install: string, versionArgs: string[] = ['--version']): boolean {
  try {
    execFileSync(command, versionArgs, { stdio: 'ignore', timeout: 20_000 })
    return true
  } catch {
    const msg = `'${command}' is not installed; install it with: ${install}`
    if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${msg} (required in CI)`)
    console.warn(`SKIP: ${msg}`)
    return false
  }
}

/** Like `haveTool`, for a program found by its path that has no version flag (`git daemon`, `sshd`). */
export function haveExecutable(path: string, install: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    const msg = `'${path}' is not installed; install it with: ${install}`
    if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${msg} (required in CI)`)
    console.warn(`SKIP: ${msg}`)
    return false
  }
}
