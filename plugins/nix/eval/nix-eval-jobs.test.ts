import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLineSplitter } from './line-splitter.ts'
import { createNixEvalJobsEvaluator, parseNixEvalJobsLine } from './nix-eval-jobs.ts'
import { EvalError, type EvalRequest, type NixJob } from './nix-evaluator.ts'

const fixture = new URL('../../../test/fixtures/nix/nix-eval-jobs-output.jsonl', import.meta.url).pathname
const text = readFileSync(fixture, 'utf8')
const lines = text.split('\n').filter(Boolean)

test('parses success lines with cacheStatus, needed builds and substitutes', () => {
  const job = parseNixEvalJobsLine(lines[0]!)
  assert.is(job.attr, 'x86_64-linux.hello')
  assert.equal(job.attrPath, ['x86_64-linux', 'hello'])
  assert.is(job.system, 'x86_64-linux')
  assert.is(job.cacheStatus, 'notBuilt')
  assert.is(job.drvPath, '/nix/store/0kd8psv4yzmlfz5nnz5f3wpqy0p4rw4c-hello-2.12.1.drv')
  assert.equal(job.neededSubstitutes, ['/nix/store/yy1f0jyk0j8y4r2jxm9h6qgvf7r7mh0v-hello-2.12.1.tar.gz.drv'])
  assert.equal(job.outputs, { out: '/nix/store/a7hnr9dcmx3qkkn8a20g7md1wya5zc9l-hello-2.12.1' })
  assert.is(job.error, undefined)
  assert.is(parseNixEvalJobsLine(lines[3]!).cacheStatus, 'cached')
  assert.equal(Object.keys(parseNixEvalJobsLine(lines[3]!).outputs!), ['doc', 'out'])
})

test('parses a null output, an error line and several systems', () => {
  assert.equal(parseNixEvalJobsLine(lines[4]!).outputs, { out: null })
  const err = parseNixEvalJobsLine(lines[5]!)
  assert.is(err.attr, 'x86_64-linux.broken')
  assert.ok(err.error!.includes('this check is broken'))
  assert.is(err.drvPath, undefined)
  const systems = new Set(lines.map((l) => parseNixEvalJobsLine(l).attrPath[0]))
  assert.equal([...systems].sort(), ['aarch64-darwin', 'aarch64-linux', 'x86_64-linux'])
})

test('rejects lines that are not jobs', () => {
  for (const bad of ['not json', '[]', '{"attr":"a"}', '{"attr":"a","drvPath":"/x","outputs":{"out":3}}', '{"attr":"a","drvPath":"/x","cacheStatus":"weird"}']) {
    assert.throws(() => parseNixEvalJobsLine(bad), (e: unknown) => e instanceof EvalError && e.kind === 'output', bad)
  }
})

test('the line splitter gives the same jobs however the stream is cut', () => {
  const whole = lines.map((l) => parseNixEvalJobsLine(l))
  for (const step of [1, 7, 64, 333, text.length]) {
    const split = createLineSplitter()
    const got: NixJob[] = []
    for (let i = 0; i < text.length; i += step) for (const l of split.push(text.slice(i, i + step))) if (l) got.push(parseNixEvalJobsLine(l))
    for (const l of split.end()) got.push(parseNixEvalJobsLine(l))
    assert.equal(got, whole, `chunk size ${step}`)
  }
})

function fakeTool(dir: string): void {
  // Prints the first line, waits until the test has seen it (a file appears), then the rest slowly.
  const script = `#!/bin/sh
printf '%s\\n' "$@" > "${dir}/argv"
echo "evaluation warning: 'system' has been renamed to" >&2
echo "  'stdenv.hostPlatform.system'" >&2
head -n 1 "${fixture}"
i=0; while [ ! -e "${dir}/go" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
tail -n +2 "${fixture}" | while IFS= read -r line; do printf '%s\\n' "$line"; sleep 0.01; done
[ -e "${dir}/fail" ] && { echo "error: flake 'git+file:///x' does not provide attribute 'checks'" >&2; exit 1; }
[ -e "${dir}/oom" ] && { echo "error: out of memory" >&2; exit 1; }
exit 0
`
  writeFileSync(join(dir, 'nix-eval-jobs'), script)
  chmodSync(join(dir, 'nix-eval-jobs'), 0o755)
}

function request(dir: string, extra: Partial<EvalRequest> = {}): EvalRequest {
  return { flakeDir: dir, attribute: 'checks', workers: 3, maxMemoryMiB: 2048, timeoutSec: 60, gcRootsDir: join(dir, 'roots'), ...extra }
}

test('streams jobs from a nix-eval-jobs process as they are printed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nej-'))
  try {
    fakeTool(dir)
    const ev = createNixEvalJobsEvaluator({ bin: join(dir, 'nix-eval-jobs') })
    const warnings: string[] = []
    const got: NixJob[] = []
    for await (const job of ev.evaluate(request(dir, { lockFile: 'ci/flake.lock', onWarning: (w) => warnings.push(w) }))) {
      // The process is still blocked until "go" exists, so the first job came while it ran.
      if (!got.length) { assert.not.ok(existsSync(join(dir, 'go'))); writeFileSync(join(dir, 'go'), '') }
      got.push(job)
    }
    assert.is(got.length, lines.length)
    assert.is(got[5]!.error !== undefined, true)
    assert.equal(warnings, ["evaluation warning: 'system' has been renamed to\n  'stdenv.hostPlatform.system'"])
    const argv = readFileSync(join(dir, 'argv'), 'utf8').trim().split('\n')
    assert.equal(argv, ['--option', 'eval-cache', 'false', '--workers', '3', '--max-memory-size', '2048',
      '--option', 'accept-flake-config', 'true', '--gc-roots-dir', join(dir, 'roots'), '--force-recurse',
      '--check-cache-status', '--flake', `${dir}#checks`, '--reference-lock-file', 'ci/flake.lock'])
  } finally { rmSync(dir, { recursive: true, force: true }) }
})

test('limits system-keyed attributes to the requested systems', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nej-'))
  try {
    fakeTool(dir)
    writeFileSync(join(dir, 'go'), '')
    const ev = createNixEvalJobsEvaluator({ bin: join(dir, 'nix-eval-jobs') })
    const got: string[] = []
    for await (const job of ev.evaluate(request(dir, { systems: ['x86_64-linux', 'aarch64-linux'] }))) got.push(job.attr)
    assert.not.ok(got.includes('aarch64-darwin.hello'))
    assert.ok(got.includes('aarch64-linux.hello'))
    assert.is(got.length, lines.length - 1)
  } finally { rmSync(dir, { recursive: true, force: true }) }
})

test('a failing nix-eval-jobs ends the stream with an EvalError naming the cause', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nej-'))
  try {
    fakeTool(dir)
    writeFileSync(join(dir, 'go'), '')
    writeFileSync(join(dir, 'fail'), '')
    const ev = createNixEvalJobsEvaluator({ bin: join(dir, 'nix-eval-jobs') })
    let n = 0
    let err: unknown
    try { for await (const _ of ev.evaluate(request(dir))) n++ } catch (e) { err = e }
    assert.is(n, lines.length)
    assert.instance(err, EvalError)
    assert.match((err as Error).message, /does not provide attribute 'checks'/)
  } finally { rmSync(dir, { recursive: true, force: true }) }
})

test('nix-eval-jobs out of memory is reported as the memory limit, with the option to raise', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nej-'))
  try {
    fakeTool(dir)
    writeFileSync(join(dir, 'go'), '')
    writeFileSync(join(dir, 'oom'), '')
    const ev = createNixEvalJobsEvaluator({ bin: join(dir, 'nix-eval-jobs') })
    let err: unknown
    try { for await (const _ of ev.evaluate(request(dir))) { /* jobs before the failure */ } } catch (e) { err = e }
    assert.instance(err, EvalError)
    assert.is((err as EvalError).kind, 'memory')
    assert.is((err as Error).message, 'evaluation ran out of memory at 2 GiB: raise evalMaxMemorySize')
  } finally { rmSync(dir, { recursive: true, force: true }) }
})

test('the time limit kills nix-eval-jobs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nej-'))
  try {
    fakeTool(dir) // never gets "go", so it waits 30 s
    const ev = createNixEvalJobsEvaluator({ bin: join(dir, 'nix-eval-jobs') })
    let err: unknown
    try { for await (const _ of ev.evaluate(request(dir, { timeoutSec: 1 }))) { /* first job */ } } catch (e) { err = e }
    assert.instance(err, EvalError)
    assert.is((err as EvalError).kind, 'timeout')
  } finally { rmSync(dir, { recursive: true, force: true }) }
})

test.run()
