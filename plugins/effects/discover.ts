import { minimalEnvironment } from '../../core/index.ts'
import type { HerculesArgs } from './hercules-args.ts'
import { runProcess } from './process.ts'
import type { ScheduleWhen } from './schedule.ts'

/** Where the flake is: a flake reference nix understands (`git+file:///repo?rev=…`, `github:o/r`). */
export interface FlakeSource { flakeRef: string }

export class EffectsEvalError extends Error {}

/**
 * The Nix expression behind discovery: `herculesCI` (else `effects`) of the flake, called with
 * Hercules' arguments when it is a function; effects are the derivations with `isEffect = true`
 * under `onPush.default.outputs.effects` or `onSchedule.<name>.outputs.effects` (`hci-effects.runIf`
 * wrappers are unwrapped, a false one is no effect). The query comes in an environment variable.
 */
const EXPR = `
let
  q = builtins.fromJSON (builtins.getEnv "BUILDBOT_EFFECTS_QUERY");
  flake = builtins.getFlake q.flakeRef;
  hci = if flake ? herculesCI then flake.herculesCI else if flake ? effects then flake.effects else null;
  args = q.args // { primaryRepo = q.args.primaryRepo // { outPath = flake.outPath; }; };
  value = if hci == null then { } else if builtins.isFunction hci then hci args else hci;
  unwrap = e: if builtins.isAttrs e && e ? run && !(e ? type && e.type == "derivation") then e.run else e;
  isEffect = e: builtins.isAttrs e && (e.type or null) == "derivation" && (e.isEffect or false) == true;
  effectsOf = job: let o = if builtins.isAttrs job then job.outputs or { } else { }; e = if builtins.isAttrs o then o.effects or { } else { }; in
    builtins.listToAttrs (builtins.filter (kv: isEffect kv.value)
      (map (n: { name = n; value = unwrap e.\${n}; }) (builtins.attrNames e)));
  job = if q.schedule == null then (value.onPush or { }).default or { } else (value.onSchedule or { }).\${q.schedule} or (throw "no schedule named '\${q.schedule}' in onSchedule");
  effects = effectsOf job;
  pick = if q.names == null then effects else builtins.listToAttrs (map (n: { name = n; value = effects.\${n} or (throw "no effect named '\${n}'; effects: \${builtins.concatStringsSep ", " (builtins.attrNames effects)}"); }) q.names);
in
  if q.mode == "names" then builtins.attrNames effects
  else if q.mode == "schedules" then builtins.mapAttrs (n: s: { when = if builtins.isAttrs s then s.when or { } else { }; effects = builtins.attrNames (effectsOf s); }) (value.onSchedule or { })
  else builtins.mapAttrs (n: e: e.drvPath) pick
`

interface Query { flakeRef: string; args: HerculesArgs; mode: 'names' | 'schedules' | 'drvs'; schedule: string | null; names: string[] | null }

export interface EvalOptions { signal?: AbortSignal; env?: NodeJS.ProcessEnv; onStderr?(text: string): void }

async function query<T>(q: Query, opts: EvalOptions): Promise<T> {
  const env = { ...(opts.env ?? minimalEnvironment()), BUILDBOT_EFFECTS_QUERY: JSON.stringify(q) }
  const r = await runProcess('nix', ['eval', '--json', '--impure', '--no-write-lock-file', '--option', 'eval-cache', 'false', '--expr', EXPR], {
    env, signal: opts.signal, onOutput: (t, s) => { if (s === 'e') opts.onStderr?.(t) },
  })
  if (r.aborted) throw new EffectsEvalError('evaluating the effects was stopped')
  if (r.code !== 0) throw new EffectsEvalError(`evaluating the effects of ${q.flakeRef} failed:\n${r.stderr.trim()}`)
  return JSON.parse(r.stdout) as T
}

/** Names of the effects of `onPush.default` (or of a schedule). */
export function listEffects(src: FlakeSource, args: HerculesArgs, opts: EvalOptions & { schedule?: string } = {}): Promise<string[]> {
  return query({ flakeRef: src.flakeRef, args, mode: 'names', schedule: opts.schedule ?? null, names: null }, opts)
}

export interface ScheduleInfo { when: ScheduleWhen; effects: string[] }

/** `onSchedule.<name>`: when each runs and its effects (as `buildbot-effects list-schedules`). */
export function listSchedules(src: FlakeSource, args: HerculesArgs, opts: EvalOptions = {}): Promise<Record<string, ScheduleInfo>> {
  return query({ flakeRef: src.flakeRef, args, mode: 'schedules', schedule: null, names: null }, opts)
}

/** Instantiates effects (all, or the named ones; an unknown name fails): name → .drv path. */
export function instantiateEffects(src: FlakeSource, args: HerculesArgs, opts: EvalOptions & { schedule?: string; names?: string[] } = {}): Promise<Record<string, string>> {
  return query({ flakeRef: src.flakeRef, args, mode: 'drvs', schedule: opts.schedule ?? null, names: opts.names ?? null }, opts)
}
