import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../../test/support/tools.ts'
import { buildInstallable, capabilitiesOf, nixEvalJobsAvailable, parseNixVersion, probeNixVersion } from './nix-version.ts'

test('parses version strings', () => {
  assert.equal(parseNixVersion('nix (Nix) 2.8.0\n'), [2, 8, 0])
  assert.equal(parseNixVersion('nix (Nix) 2.24.10pre20240101_abc'), [2, 24, 10])
  assert.equal(parseNixVersion('nix (Lix, like Nix) 2.91.1'), [2, 91, 1])
  assert.throws(() => parseNixVersion('garbage'))
})

test('installables: ^* only on new nix', () => {
  const drv = '/nix/store/0000-x.drv'
  assert.is(buildInstallable(drv, capabilitiesOf([2, 8, 0])), drv)
  assert.is(buildInstallable(drv, capabilitiesOf([2, 24, 0])), `${drv}^*`)
  assert.not.ok(capabilitiesOf([2, 8, 0]).hasPrintOutPaths)
})

test('probes the installed nix', async () => {
  if (!haveTool('nix', 'apt-get install -y nix-bin')) return
  const v = await probeNixVersion()
  assert.ok(v.version[0] >= 2)
  if (v.version[0] === 2 && v.version[1] === 8) {
    assert.equal([v.hasPrintOutPaths, v.hasCaretStar, v.hasReferenceLockFile], [false, false, false])
  }
})

test('finds nix-eval-jobs on PATH', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nej-path-'))
  try {
    assert.not.ok(nixEvalJobsAvailable(dir))
    writeFileSync(join(dir, 'nix-eval-jobs'), '#!/bin/sh\n')
    chmodSync(join(dir, 'nix-eval-jobs'), 0o755)
    assert.ok(nixEvalJobsAvailable(`/nonexistent:${dir}`))
  } finally { rmSync(dir, { recursive: true, force: true }) }
})

test.run()
