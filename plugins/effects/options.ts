import { isAbsolute } from 'node:path'
import { z } from '../../core/index.ts'

/** `github:owner/repo`, `github:owner/*`, `gitea:owner/repo`, … (as the NixOS module's keys). */
export const SECRET_KEY = /^[a-z][a-z0-9-]*:[^/:*]+\/(\*|[^/*]+)$/

export const effectsOptionsSchema = z.strictObject({
  perRepoSecretFiles: z.record(z.string(), z.string()).default({}).meta({
    description: "secrets files in Hercules CI's format per repository ('github:owner/repo') or per owner ('github:owner/*'); the repository's key wins",
    examples: [{ 'github:acme/app': '/run/secrets/effects-acme-app.json', 'github:acme/*': '/run/secrets/effects-acme.json' }],
  }),
  extraSandboxPaths: z.array(z.string()).default([]).meta({ description: 'host paths bound read-only into every effect sandbox', examples: [['/etc/ssl/certs']] }),
  workers: z.array(z.string()).min(1).optional().meta({
    description: "workers the effect builders claim (effects run on the master's machine, like evaluations); default ['local']", examples: [['local']],
  }),
  gitTokenSecret: z.string().optional().meta({
    description: 'name of the secret giving a GitToken entry its token; {forge}, {owner}, {repo} and {project} are replaced. Default: github-token-{project} (GitHub), {forge}-token (others)',
    examples: ['github-token-{project}'],
  }),
})

export type EffectsOptions = z.input<typeof effectsOptionsSchema>
export type ResolvedEffectsOptions = z.output<typeof effectsOptionsSchema>

/** Mistakes the schema cannot see: key shapes and relative paths, at their key path. */
export function optionErrors(o: ResolvedEffectsOptions): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = []
  for (const [k, file] of Object.entries(o.perRepoSecretFiles)) {
    if (!SECRET_KEY.test(k)) out.push({ path: `perRepoSecretFiles.${k}`, message: `'${k}' is not '<forge>:<owner>/<repo>' or '<forge>:<owner>/*' (e.g. 'github:acme/app')` })
    if (!isAbsolute(file)) out.push({ path: `perRepoSecretFiles.${k}`, message: `'${file}' must be an absolute path` })
  }
  o.extraSandboxPaths.forEach((p, i) => { if (!isAbsolute(p)) out.push({ path: `extraSandboxPaths[${i}]`, message: `'${p}' must be an absolute path` }) })
  return out
}

/** The secrets file of a project: `forge:owner/repo` first, then `forge:owner/*`. */
export function secretFileFor(files: Record<string, string>, forge: string | null, project: string): { key: string; file: string } | undefined {
  const f = forge ?? 'git'
  const exact = `${f}:${project}`
  if (files[exact]) return { key: exact, file: files[exact] }
  const owner = project.includes('/') ? project.slice(0, project.lastIndexOf('/')) : undefined
  const wild = owner ? `${f}:${owner}/*` : undefined
  if (wild && files[wild]) return { key: wild, file: files[wild] }
  return undefined
}
