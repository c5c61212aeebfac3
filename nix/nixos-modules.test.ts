import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { haveTool } from '../test/support/tools.ts'
import { z } from '../core/index.ts'
import { moduleOnlyOptions, nixosOptionsSchema } from './config/nixos-options.ts'
import { literalDefaults, loadReference, parseReferenceMarkdown, readOptionTree, referenceFile, repoRoot, sharedSpec, typeTokens, type OptionEntry } from './tests/options-reference.ts'

const hasNix = haveTool('nix-instantiate', 'apt-get install -y nix-bin')
const modules = join(repoRoot, 'nix', 'modules')
// Options this module adds beside buildbot-nix's (which took them from nixpkgs' buildbot-master).
const ADDED = new Set(['port', 'workerPort', 'listenAddress'])

function nixFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.') || name === 'state') continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) nixFiles(p, out)
    else if (name.endsWith('.nix')) out.push(p)
  }
  return out
}

test('every .nix file of the repository parses', () => {
  if (!hasNix) return
  const files = [join(repoRoot, 'flake.nix'), ...nixFiles(join(repoRoot, 'nix'))].filter(existsSync)
  assert.ok(files.length >= 8, `found ${files.length} .nix files`)
  for (const f of files) {
    try {
      execFileSync('nix-instantiate', ['--parse', f], { stdio: ['ignore', 'ignore', 'pipe'] })
    } catch (err) {
      assert.unreachable(`${relative(repoRoot, f)} does not parse: ${(err as { stderr?: Buffer }).stderr?.toString() ?? err}`)
    }
  }
  console.log(`${files.length} .nix files parse`)
})

test('the committed reference is the steering document\'s option tables', () => {
  if (!existsSync(sharedSpec)) { console.log(`(${sharedSpec} is not beside the checkout; the committed reference is used)`); return }
  const fromSpec = parseReferenceMarkdown(readFileSync(sharedSpec, 'utf8'))
  assert.equal(JSON.parse(readFileSync(referenceFile, 'utf8')), fromSpec, `regenerate ${relative(repoRoot, referenceFile)} from the spec`)
})

function compareTree(kind: 'master' | 'worker', tree: OptionEntry[]): void {
  const { ref } = loadReference()
  const expected = ref[kind]
  const byPath = new Map(tree.map((o) => [o.path, o]))
  const missing = expected.filter((e) => !byPath.has(e.path)).map((e) => e.path)
  assert.equal(missing, [], `${kind} options missing from the module`)
  const refPaths = new Set(expected.map((e) => e.path))
  // Sub-options the reference leaves implicit (the tags of attrTag, the submodule entries themselves).
  const extra = tree.map((o) => o.path).filter((p) => !refPaths.has(p) && !ADDED.has(p) && !/\.(public|fullyPrivate|authToken|signingKey)(\.file)?$/.test(p))
  assert.equal(extra, [], `${kind} options the reference does not have (add them to ADDED with a reason, or remove them)`)
  for (const e of expected) {
    assert.equal(typeTokens(byPath.get(e.path)!.type), typeTokens(e.type), `type of ${kind}.${e.path}: module '${byPath.get(e.path)!.type}', reference '${e.type}'`)
    const required = e.default.startsWith('(required)')
    if (e.default !== '—') assert.is(Boolean(byPath.get(e.path)!.required), required, `${kind}.${e.path} is ${required ? '' : 'not '}required in the reference`)
  }
  const literals = literalDefaults(expected)
  for (const [path, value] of literals) {
    const o = byPath.get(path)!
    assert.ok('value' in o, `${kind}.${path}: the reference's default is the literal ${JSON.stringify(value)}, the module's is ${o.text ?? 'missing'}`)
    assert.equal(o.value, value, `default of ${kind}.${path}`)
  }
  console.log(`${kind}: ${expected.length} options with their types, ${literals.size} literal defaults compared; ${expected.length - literals.size} defaults refer to other values`)
}

test('the master module declares every buildbot-nix master option with its type and default', () => {
  if (!hasNix) return
  const tree = readOptionTree(join(modules, 'master.nix'), 'services.buildbot-nix.master')
  compareTree('master', tree.options)
  const { ref } = loadReference()
  const masterRenames = ref.renamed.filter((r) => r.from.startsWith('services.buildbot-nix.master.'))
  assert.equal(tree.renamed.sort((a, b) => a.from.localeCompare(b.from)), masterRenames.sort((a, b) => a.from.localeCompare(b.from)))
  assert.equal(tree.removed.sort(), ref.removed.filter((r) => r.startsWith('services.buildbot-nix.master.')).sort())
})

test('the worker module declares every buildbot-nix worker option', () => {
  if (!hasNix) return
  const tree = readOptionTree(join(modules, 'worker.nix'), 'services.buildbot-nix.worker')
  compareTree('worker', tree.options)
  const { ref } = loadReference()
  assert.equal(tree.renamed, ref.renamed.filter((r) => r.from.startsWith('services.buildbot-nix.worker.')))
  assert.equal(tree.removed, ref.removed.filter((r) => r.startsWith('services.buildbot-nix.worker.')))
})

/** The schema's leaves as `path -> type words`, `*` for list items and `<name>` for record values. */
function schemaLeaves(schema: unknown, path: string[] = [], out = new Map<string, string[]>()): Map<string, string[]> {
  const s = schema as { type?: string | string[]; properties?: Record<string, unknown>; items?: unknown; additionalProperties?: unknown; anyOf?: unknown[]; enum?: unknown[]; const?: unknown }
  const variants = s.anyOf ?? [s]
  const nonNull = variants.filter((v) => (v as { type?: string }).type !== 'null')
  const objects = nonNull.filter((v) => (v as { type?: string; properties?: unknown }).properties)
  for (const o of objects) for (const [k, v] of Object.entries((o as { properties: Record<string, unknown> }).properties)) schemaLeaves(v, [...path, k], out)
  const records = nonNull.filter((v) => typeof (v as { additionalProperties?: unknown }).additionalProperties === 'object')
  for (const r of records) schemaLeaves((r as { additionalProperties: unknown }).additionalProperties, [...path, '<name>'], out)
  const arrays = nonNull.filter((v) => (v as { type?: string }).type === 'array' && (v as { items?: { properties?: unknown } }).items?.properties)
  for (const a of arrays) schemaLeaves((a as { items: unknown }).items, [...path, '*'], out)
  const types = variants.flatMap((v) => { const t = (v as { type?: string | string[] }).type; return t === undefined ? ['any'] : Array.isArray(t) ? t : [t] })
  if (path.length) out.set(path.join('.'), [...new Set(types)].sort())
  return out
}

const JSON_TYPES: Record<string, string[]> = {
  bool: ['boolean'], str: ['string'], path: ['string'], int: ['integer'], port: ['integer'], 'ints.unsigned': ['integer'],
  enum: ['string'], addCheck: [], listOf: ['array'], attrsOf: ['object'], submodule: ['object'], attrTag: ['object'],
}

test('the options JSON schema the master reads matches the module\'s declarations', () => {
  if (!hasNix) return
  const tree = readOptionTree(join(modules, 'master.nix'), 'services.buildbot-nix.master').options
  const leaves = schemaLeaves(z.toJSONSchema(nixosOptionsSchema, { io: 'input' }))
  const onlyModule = new Set(moduleOnlyOptions)
  // Secret files arrive as credential names (strings); attrTag tags are object keys.
  const fromModule = tree.filter((o) => !onlyModule.has(o.path) && ![...onlyModule].some((m) => o.path.startsWith(`${m}.`)))
  const missing = fromModule.map((o) => o.path).filter((p) => !leaves.has(p))
  assert.equal(missing, [], 'module options the master\'s schema does not read')
  const treePaths = new Set(tree.map((o) => o.path))
  // Groups (github, pullBased, …) and the entries of lists and records are not options themselves.
  const isGroup = (p: string) => [...treePaths].some((t) => t.startsWith(`${p}.`))
  const unknown = [...leaves.keys()].filter((p) => !treePaths.has(p) && !isGroup(p) && !/(^|\.)(_type|value|\*|<name>)$/.test(p))
  assert.equal(unknown, [], 'schema keys no module option writes')
  for (const o of fromModule) {
    const words = typeTokens(o.type)
    const nullable = words[0] === 'nullOr'
    const head = (nullable ? words[1] : words[0]) ?? ''
    const want = head === 'oneOf' ? null : JSON_TYPES[head === 'addCheck' ? (words[nullable ? 2 : 1] ?? '') : head]
    const got = leaves.get(o.path)!
    if (want) for (const t of want) assert.ok(got.includes(t) || (t === 'object' && got.includes('any')), `${o.path}: module type '${o.type}', schema types ${got.join('|')}`)
    if (nullable) assert.ok(got.includes('null'), `${o.path} may be null in the module; the schema must accept null`)
  }
  console.log(`${fromModule.length} module options checked against the master's schema`)
})

test('docs/nixos-options.md has a row for every buildbot-nix option', () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'nixos-options.md'), 'utf8')
  const rows = new Set([...doc.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]))
  const { ref } = loadReference()
  const missing = [...ref.master, ...ref.worker].map((o) => o.path).filter((p) => !rows.has(p))
  assert.equal(missing, [], 'options without a row')
})

test.run()
