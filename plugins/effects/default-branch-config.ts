import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { parse } from 'smol-toml'
import { git } from './repo-context.ts'

/** The effects keys of `buildbot-nix.toml`, read only from the default branch (as buildbot-nix). */
export interface EffectsRepoConfig {
  effectsOnPullRequests: boolean
  effectsBranches: string[]
  /** Type mistakes (the key's default is used). */
  warnings: string[]
}

/** Parses the effects keys of a `buildbot-nix.toml` text (undefined: no file); other keys are the Nix plugin's. */
export function parseEffectsConfig(text: string | undefined): EffectsRepoConfig {
  const out: EffectsRepoConfig = { effectsOnPullRequests: false, effectsBranches: [], warnings: [] }
  if (text === undefined) return out
  let doc: Record<string, unknown>
  try { doc = parse(text) as Record<string, unknown> } catch (e) {
    out.warnings.push(`buildbot-nix.toml on the default branch is not valid TOML (${(e as Error).message.split('\n')[0]}); effects run on the default branch only`)
    return out
  }
  const pr = doc.effects_on_pull_requests
  if (typeof pr === 'boolean') out.effectsOnPullRequests = pr
  else if (pr !== undefined) out.warnings.push(`buildbot-nix.toml: 'effects_on_pull_requests' must be a boolean; using false. Fix: effects_on_pull_requests = true`)
  const br = doc.effects_branches
  if (Array.isArray(br) && br.every((b) => typeof b === 'string')) out.effectsBranches = br as string[]
  else if (br !== undefined) out.warnings.push(`buildbot-nix.toml: 'effects_branches' must be an array of strings; using []. Fix: effects_branches = ["release-*"]`)
  return out
}

/**
 * Reads `buildbot-nix.toml` of the default branch's tip for a checkout made by core's git step:
 * from the worker's mirror of the repository (the checkout borrows its objects), else fetched
 * from `repoUrl`.
 */
export async function readDefaultBranchConfig(checkoutDir: string, defaultBranch: string, repoUrl: string): Promise<EffectsRepoConfig> {
  const path = `refs/heads/${defaultBranch}:buildbot-nix.toml`
  const alternates = await readFile(join(checkoutDir, '.git/objects/info/alternates'), 'utf8').catch(() => '')
  const mirror = alternates.split('\n')[0]?.trim()
  if (mirror) {
    const dir = dirname(mirror)
    if (await git(dir, ['--git-dir', dir, 'rev-parse', '--verify', '-q', `refs/heads/${defaultBranch}`])) {
      return parseEffectsConfig(await git(dir, ['--git-dir', dir, 'show', path]))
    }
  }
  if (await git(checkoutDir, ['fetch', '-q', '--no-tags', repoUrl, `+refs/heads/${defaultBranch}:refs/effects/default-branch`]) === undefined) {
    return { ...parseEffectsConfig(undefined), warnings: [`could not fetch the default branch '${defaultBranch}' to read its buildbot-nix.toml; effects run on the default branch only`] }
  }
  return parseEffectsConfig(await git(checkoutDir, ['show', 'refs/effects/default-branch:buildbot-nix.toml']))
}
