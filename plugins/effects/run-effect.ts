import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { realiseInputs, showDerivation } from './derivation.ts'
import { runInSandbox } from './sandbox.ts'
import { parseSecretsMap, redactingWriter, secretStrings, type SecretsJson, type SecretsMap } from './secrets.ts'

export interface RunEffectOptions {
  drvPath: string
  /** Chooses the secrets from the effect's `secretsMap` (throws to refuse, naming the secret). */
  secrets(map: SecretsMap): Promise<SecretsJson>
  extraSandboxPaths: readonly string[]
  projectId: string
  projectPath: string
  /** Environment for nix itself (reading the .drv, building inputs). */
  nixEnv?: NodeJS.ProcessEnv
  signal?: AbortSignal
  /** The effect's output (secret values hidden) and what the runner says. */
  onOutput(text: string, stream: 'o' | 'e' | 'h'): void
  /** Prints the bwrap command line (`--debug`). */
  debug?: boolean
  /** Directory for the temporary secrets file (default: the system's). */
  tmpDir?: string
}

export interface EffectOutcome {
  /** The builder's exit code (null: killed or stopped). */
  exitCode: number | null
  aborted: boolean
}

/**
 * Runs one effect: reads its .drv, builds its inputs, selects its secrets, writes them to a
 * private temporary file and runs the builder in the bubblewrap sandbox. Secret values that
 * appear in the output are replaced by `<secret>`.
 */
export async function runEffect(o: RunEffectOptions): Promise<EffectOutcome> {
  const drv = await showDerivation(o.drvPath, { env: o.nixEnv, signal: o.signal })
  const secrets = await o.secrets(parseSecretsMap(drv.env.secretsMap))
  const given = Object.keys(secrets).filter((k) => k !== 'hercules-ci')
  o.onOutput(`effect ${drv.env.name ?? o.drvPath}: ${drv.drvPath}\nsecrets: ${given.length ? given.join(', ') : 'none'}\n`, 'h')
  await realiseInputs(drv, { env: o.nixEnv, signal: o.signal, onOutput: (t) => o.onOutput(t, 'e') })
  const dir = await mkdtemp(join(o.tmpDir ?? tmpdir(), 'effect-secrets-'))
  const file = join(dir, 'secrets.json')
  const hide = secretStrings(secrets)
  const out = redactingWriter(hide, (t) => o.onOutput(t, 'o'))
  const err = redactingWriter(hide, (t) => o.onOutput(t, 'e'))
  try {
    await writeFile(file, JSON.stringify(secrets) + '\n', { mode: 0o600 })
    const r = await runInSandbox(drv, {
      secretsFile: file, extraSandboxPaths: o.extraSandboxPaths, projectId: o.projectId, projectPath: o.projectPath, signal: o.signal,
      onOutput: (t, s) => (s === 'o' ? out : err).write(t),
      onCommand: o.debug ? (argv) => o.onOutput(`${argv.map((x) => (/^[\w@%+=:,./-]+$/.test(x) ? x : `'${x.replace(/'/g, `'\\''`)}'`)).join(' ')}\n`, 'h') : undefined,
    })
    out.end(); err.end()
    return { exitCode: r.code, aborted: r.aborted }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
