import { minimalEnvironment } from '../../core/index.ts'
import { runProcess } from './process.ts'

/** What running an effect needs from its .drv. */
export interface EffectDerivation {
  drvPath: string
  builder: string
  args: string[]
  env: Record<string, string>
  /** Derivations whose outputs must exist before the effect runs. */
  inputDrvs: string[]
}

export class DerivationError extends Error {}

const storePath = (p: string): string => (p.startsWith('/') ? p : `/nix/store/${p}`)

/** Parses `nix derivation show` (or `nix show-derivation` on older nix) output, both formats of inputDrvs. */
export function parseDerivationJson(text: string, drvPath: string): EffectDerivation {
  const doc = JSON.parse(text) as Record<string, unknown>
  // Nix 2.33 keys derivations by base name under `derivations`; older nix by full path at the top.
  const all = (doc.derivations && typeof doc.derivations === 'object' ? doc.derivations : doc) as Record<string, Record<string, unknown>>
  const d = all[drvPath] ?? all[drvPath.replace(/^\/nix\/store\//, '')] ?? Object.values(all)[0]
  if (!d) throw new DerivationError(`no derivation in the output for ${drvPath}`)
  const inputs = (d.inputDrvs ?? (d.inputs as { drvs?: unknown } | undefined)?.drvs ?? {}) as Record<string, unknown>
  return {
    drvPath,
    builder: String(d.builder),
    args: ((d.args ?? []) as unknown[]).map(String),
    env: Object.fromEntries(Object.entries((d.env ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)])),
    inputDrvs: Object.keys(inputs).map(storePath),
  }
}

export interface DrvOptions { env?: NodeJS.ProcessEnv; signal?: AbortSignal; onOutput?(text: string, stream: 'o' | 'e'): void }

/** Reads a .drv through nix (`nix derivation show`, else `nix show-derivation`). */
export async function showDerivation(drvPath: string, opts: DrvOptions = {}): Promise<EffectDerivation> {
  const env = opts.env ?? minimalEnvironment()
  let r = await runProcess('nix', ['derivation', 'show', drvPath], { env, signal: opts.signal })
  if (r.code !== 0 && /not a recogni[sz]ed command|unrecognised command|'derivation'/.test(r.stderr)) {
    r = await runProcess('nix', ['show-derivation', drvPath], { env, signal: opts.signal })
  }
  if (r.code !== 0) throw new DerivationError(`reading ${drvPath} failed: ${r.stderr.trim()}`)
  return parseDerivationJson(r.stdout, drvPath)
}

/** Builds (or finds) the outputs of the effect's inputs; their build logs go to `onOutput`. */
export async function realiseInputs(d: EffectDerivation, opts: DrvOptions = {}): Promise<void> {
  if (!d.inputDrvs.length) return
  const r = await runProcess('nix-store', ['--realise', ...d.inputDrvs], { env: opts.env ?? minimalEnvironment(), signal: opts.signal, onOutput: (t, s) => { if (s === 'e') opts.onOutput?.(t, 'e') } })
  if (r.aborted) throw new DerivationError('stopped while building the effect\'s inputs')
  if (r.code !== 0) throw new DerivationError(`building the effect's inputs failed (nix-store --realise exited ${r.code})`)
}
