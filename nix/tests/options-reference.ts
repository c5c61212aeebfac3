import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** One option of a module: its path under the module's prefix, its type, its default. */
export interface OptionEntry {
  path: string
  type: string
  value?: unknown
  text?: string
  required?: boolean
}

export interface ReferenceOption {
  path: string
  type: string
  default: string
}

export interface OptionsReference {
  master: ReferenceOption[]
  worker: ReferenceOption[]
  renamed: { from: string; to: string }[]
  removed: string[]
}

const here = dirname(fileURLToPath(import.meta.url))
export const repoRoot = join(here, '..', '..')
/** The reference as committed with the tests (extracted from buildbot-nix's modules). */
export const referenceFile = join(here, 'buildbot-nix-options.reference.json')
/** The steering copy of the reference, beside the checkout when it is there. */
export const sharedSpec = join(repoRoot, '..', 'shared', 'specs', 'buildbot-nix-options.md')

/** Reads the option tables of the reference document (buildbot-nix-options.md). */
export function parseReferenceMarkdown(md: string): OptionsReference {
  const out: OptionsReference = { master: [], worker: [], renamed: [], removed: [] }
  let section: 'master' | 'worker' | 'renames' | 'worker-renames' | null = null
  for (const line of md.split('\n')) {
    if (line.startsWith('## services.buildbot-nix.master') || line.startsWith('### cachix') || line.startsWith('### niks3')) section = 'master'
    else if (line.startsWith('### Renamed')) section = 'renames'
    else if (line.startsWith('## services.buildbot-nix.worker')) section = 'worker'
    else if (line.startsWith('## ') || line.startsWith('### ')) section = null
    if ((section === 'master' || section === 'worker') && line.startsWith('| ') && !line.startsWith('| Option')) {
      const cells = line.replace(/^\|/, '').replace(/\|\s*$/, '').split('|').map((c) => c.trim())
      if (cells.length >= 3 && !/^-+$/.test(cells[0]!)) out[section].push({ path: cells[0]!, type: cells[1]!, default: cells.slice(2).join('|').trim() })
    }
    if (section === 'renames') {
      const ren = /^- (\S+) -> (\S+)/.exec(line)
      if (ren) out.renamed.push({ from: `services.buildbot-nix.master.${ren[1]}`, to: `services.buildbot-nix.master.${ren[2]}` })
      const rem = /^- (\S+) REMOVED/.exec(line)
      if (rem) out.removed.push(`services.buildbot-nix.master.${rem[1]}`)
    }
    if (section === 'worker' && line.startsWith('Renamed:')) {
      const ren = /Renamed: worker\.(\S+) -> services\.buildbot-nix\.(\S+?)\.(?:\s|$)/.exec(line)
      if (ren) out.renamed.push({ from: `services.buildbot-nix.worker.${ren[1]}`, to: `services.buildbot-nix.${ren[2]}` })
      const rem = /Removed: worker\.(\S+?)\.(?:\s|$)/.exec(line)
      if (rem) out.removed.push(`services.buildbot-nix.worker.${rem[1]}`)
    }
  }
  return out
}

/** The reference: the steering document when it is beside the checkout, else the committed copy. */
export function loadReference(): { ref: OptionsReference; from: string } {
  if (existsSync(sharedSpec)) return { ref: parseReferenceMarkdown(readFileSync(sharedSpec, 'utf8')), from: sharedSpec }
  return { ref: JSON.parse(readFileSync(referenceFile, 'utf8')) as OptionsReference, from: referenceFile }
}

const TYPE_WORDS = new Set(['bool', 'str', 'int', 'path', 'port', 'package', 'enum', 'nullOr', 'listOf', 'attrsOf', 'oneOf', 'submodule', 'attrTag', 'addCheck', 'ints.unsigned', 'interpolate', 'unspecified'])

/**
 * A type written by hand ("nullOr (listOf str)", "bool (mkEnableOption)", "addCheck int (x > 0)",
 * "listOf (submodule {...})") as the list of its type words and enum values, for comparison.
 */
export function typeTokens(type: string): string[] {
  let s = type.replace(/\blib\.types\.|\btypes\./g, '').replace(/interpolateType/g, 'interpolate')
  // Drop { ... } bodies (submodule and attrTag contents are compared option by option).
  for (let prev = ''; prev !== s;) { prev = s; s = s.replace(/\{[^{}]*\}/g, '') }
  // Drop parenthesised remarks that are not types: (mkEnableOption), (x > 0), (MiB), (s).
  for (let prev = ''; prev !== s;) {
    prev = s
    s = s.replace(/\(([^()]*)\)/g, (whole, inner: string) => {
      const first = inner.trim().split(/\s+/)[0] ?? ''
      return TYPE_WORDS.has(first) ? ` ${inner} ` : ' '
    })
  }
  return (s.match(/"[^"]*"|[A-Za-z][A-Za-z.]*/g) ?? []).filter((w) => w.startsWith('"') || TYPE_WORDS.has(w))
}

/** Reads a module's option tree with the lib stand-in (nix-instantiate, no nixpkgs needed). */
export function readOptionTree(module: string, prefix: string): { options: OptionEntry[]; renamed: { from: string; to: string }[]; removed: string[] } {
  const out = execFileSync('nix-instantiate', ['--eval', '--strict', '--json', join(here, 'option-tree.nix'), '--arg', 'module', module, '--argstr', 'prefix', prefix], { encoding: 'utf8' })
  return JSON.parse(out) as { options: OptionEntry[]; renamed: { from: string; to: string }[]; removed: string[] }
}

/**
 * The reference's literal defaults ("60 * 20", "[ ]", "\"build-with-buildbot\"", "47  (# remark)")
 * evaluated by nix; defaults that refer to other values (cfg.…, pkgs.…) are left out.
 */
export function literalDefaults(entries: ReferenceOption[]): Map<string, unknown> {
  const literal = new Map<string, string>()
  for (const e of entries) {
    const d = e.default.replace(/\s+\((?:PR|#|=|asserted|must|deprecated)[^)]*\)\s*$/, '').replace(/\s+\(PR #\d+\)$/, '').trim()
    if (!d || d.startsWith('(required)') || d === '—') continue
    const outside = d.replace(/"[^"]*"/g, '""')
    const idents = outside.match(/[A-Za-z_][A-Za-z0-9_.-]*(?=\s*=)?/g) ?? []
    const names = [...outside.matchAll(/([A-Za-z_][A-Za-z0-9_-]*)\s*=(?!=)/g)].map((m) => m[1])
    if (idents.every((w) => ['true', 'false', 'null'].includes(w) || names.includes(w))) literal.set(e.path, d)
  }
  if (literal.size === 0) return new Map()
  const expr = `{ ${[...literal].map(([p, d], i) => `"${i}" = (${d});`).join(' ')} }`
  const values = JSON.parse(execFileSync('nix-instantiate', ['--eval', '--strict', '--json', '--expr', expr], { encoding: 'utf8' })) as Record<string, unknown>
  return new Map([...literal.keys()].map((p, i) => [p, values[String(i)]]))
}
