import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChangeEntity } from '../../core/index.ts'
import type { MasterHarness } from '../support/master-harness.ts'
import type { GitHubPluginOptions } from '../../plugins/github/index.ts'
import { startGitHubStandIn, type GitHubStandIn } from './github-stand-in.ts'

export const WEBHOOK_SECRET = 'gh-webhook-secret-5f2e9a'

/** A stand-in GitHub, the App's key and webhook secret in files, and the plugin's options pointing at them. */
export async function githubFixture(o: { tokenLifetimeMs?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'github-plugin-'))
  const gh: GitHubStandIn = await startGitHubStandIn({ tokenLifetimeMs: o.tokenLifetimeMs })
  const appSecretKeyFile = join(dir, 'app.pem')
  const webhookSecretFile = join(dir, 'webhook-secret')
  writeFileSync(appSecretKeyFile, gh.privateKeyPem)
  writeFileSync(webhookSecretFile, WEBHOOK_SECRET + '\n')
  const options = (extra: Partial<GitHubPluginOptions> = {}): GitHubPluginOptions => ({
    appId: gh.appId, appSecretKeyFile, webhookSecretFile, apiBaseUrl: gh.url, requestSpacing: 0,
    retry: { initialMs: 20, maxMs: 200 }, ...extra,
  })
  return { dir, gh, options, appSecretKeyFile, webhookSecretFile }
}

export const hookUrl = (h: MasterHarness): string => `http://127.0.0.1:${h.master.ports.www}/change_hook/github`

/** The changes stored, oldest first. */
export async function changes(h: MasterHarness): Promise<ChangeEntity[]> {
  const rows = await h.master.data.db.k.selectFrom('changes').select('changeid').orderBy('changeid').execute()
  return (await Promise.all(rows.map((r) => h.master.data.changes.getChange(r.changeid)))).filter((c): c is ChangeEntity => !!c)
}
