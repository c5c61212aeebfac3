import type { MasterHarness } from './master-harness.ts'
import { NixKey, type NixApi, type NixHooks } from '../../plugins/nix/index.ts'

/** The running Nix plugin's hooks of a test master (what a plugin gets with `api.use(NixKey).hooks`). */
export function nixHooks(h: MasterHarness): NixHooks {
  const api = h.master.config.services.get(NixKey.id) as NixApi | undefined
  if (!api) throw new Error('the master has no nix plugin')
  return api.hooks
}

/** Resolves with the next event of a hook that passes `filter`. */
export function nextEvent<T>(hook: { tap(fn: (ev: T) => void): () => void }, filter: (ev: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const untap = hook.tap((ev) => { if (filter(ev)) { untap(); resolve(ev) } })
  })
}
