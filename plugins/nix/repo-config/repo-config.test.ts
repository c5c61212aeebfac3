import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_REPO_CONFIG, parseRepoConfig, readRepoConfig } from './repo-config.ts'

const root = mkdtempSync(join(tmpdir(), 'repo-config-'))
const outside = mkdtempSync(join(tmpdir(), 'repo-config-out-'))
mkdirSync(join(root, 'nix', 'ci'), { recursive: true })
symlinkSync(outside, join(root, 'escape'))
symlinkSync(join(root, 'nix'), join(root, 'nixlink'))
const opts = { checkoutRoot: root, isDefaultBranch: true }

test('no file gives the defaults', async () => {
  const r = await readRepoConfig(opts)
  assert.equal(r.config, { ...DEFAULT_REPO_CONFIG })
  assert.equal(r.warnings, [])
})

test('reads every key on the default branch', async () => {
  writeFileSync(join(root, 'buildbot-nix.toml'), 'flake_dir = "nix"\nlock_file = "ci/flake.lock"\nattribute = "ci.buildbot"\neffects_on_pull_requests = true\neffects_branches = ["release-*"]\n')
  const r = await readRepoConfig(opts)
  assert.equal(r.config, { flakeDir: 'nix', lockFile: 'ci/flake.lock', attribute: 'ci.buildbot', effectsOnPullRequests: true, effectsBranches: ['release-*'] })
  assert.equal(r.warnings, [])
  const pr = await readRepoConfig({ ...opts, isDefaultBranch: false })
  assert.is(pr.config.effectsOnPullRequests, false)
  assert.equal(pr.config.effectsBranches, [])
  assert.is(pr.config.attribute, 'ci.buildbot')
})

test('bad TOML warns and gives the defaults', () => {
  const r = parseRepoConfig('flake_dir = [', opts)
  assert.equal(r.config, { ...DEFAULT_REPO_CONFIG })
  assert.is(r.warnings.length, 1)
  assert.match(r.warnings[0]!.message, /not valid TOML/)
})

test('wrong types and unknown keys warn with the key and keep the other keys', () => {
  const r = parseRepoConfig('flake_dir = 3\nattribute = "hydraJobs"\neffects_branches = "main"\nefects_on_pull_requests = true\n', opts)
  assert.equal(r.config, { ...DEFAULT_REPO_CONFIG, attribute: 'hydraJobs' })
  assert.equal(r.warnings.map((w) => w.key).sort(), ['efects_on_pull_requests', 'effects_branches', 'flake_dir'])
  assert.ok(r.warnings.every((w) => /Fix:/.test(w.message)))
})

test('flake_dir must not contain a colon or leave the repository', () => {
  for (const bad of ['github:foo/bar', '..', '../x', '/etc', 'escape', 'escape/sub', 'nix/../../x', '']) {
    const r = parseRepoConfig(`flake_dir = ${JSON.stringify(bad)}`, opts)
    assert.is(r.config.flakeDir, '.', bad)
    assert.is(r.warnings[0]?.key, 'flake_dir', bad)
  }
  for (const ok of ['nix', 'nix/ci', './nix', 'nixlink', 'not-yet/there']) {
    assert.is(parseRepoConfig(`flake_dir = ${JSON.stringify(ok)}`, opts).config.flakeDir, ok, ok)
  }
  const r = parseRepoConfig('flake_dir = "nix"\nlock_file = "../../x.lock"', opts)
  assert.is(r.config.lockFile, 'flake.lock')
  assert.is(r.warnings[0]?.key, 'lock_file')
})

test('attribute must be an attribute path', () => {
  assert.is(parseRepoConfig('attribute = "checks#x"', opts).config.attribute, 'checks')
  assert.is(parseRepoConfig('attribute = "hydraJobs.x86_64-linux"', opts).config.attribute, 'hydraJobs.x86_64-linux')
})

test.after(() => { rmSync(root, { recursive: true, force: true }); rmSync(outside, { recursive: true, force: true }) })
test.run()
