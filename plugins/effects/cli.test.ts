import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { haveTool } from '../../test/support/tools.ts'
import { ESCAPES, makeEffectsRepo } from '../../test/fixtures/nix/effects-flake.ts'
import { spreadOf } from './schedule.ts'
import { main } from './cli.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const hasBwrap = haveTool('bwrap', 'apt-get install -y bubblewrap')
const maybe = hasNix && hasBwrap ? test : test.skip
const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
const tmp = mkdtempSync(join(tmpdir(), 'effects-cli-'))
const hostDir = join(tmp, 'host-dir')
const hostFile = join(tmp, 'host-file.txt')
const secretsFile = join(tmp, 'secrets.json')
const repo = join(tmp, 'repo')
const SECRET = 'tok-3f9a1c77e2'
const OTHER = 'other-5b8e0d21aa'

mkdirSync(hostDir)
writeFileSync(hostFile, 'host data\n')
writeFileSync(secretsFile, JSON.stringify({
  deploy: { kind: 'Secret', data: { token: SECRET }, condition: { and: ['isDefaultBranch', { isRepo: 'repo' }] } },
  other: { kind: 'Secret', data: { token: OTHER } },
}))
if (hasNix && hasBwrap) {
  makeEffectsRepo(repo, { hostDir, hostFile, secretsFile, stateDir: tmp, schedules: true })
  execFileSync('git', ['branch', 'feature'], { cwd: repo })
}

/** The command line in this process (most cases), with its output collected. */
async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(args, { out: (t) => { out += t }, err: (t) => { err += t } })
  return { code, out, err }
}

/** The package's bin, as `npx buildbot-effects` runs it. */
function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/buildbot-effects.mjs'), ...args], { encoding: 'utf8', timeout: 120_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

maybe('list prints the effects of onPush.default as JSON (derivations without isEffect are not effects)', () => {
  const r = cli('--path', repo, 'list')
  assert.is(r.code, 0, r.err)
  assert.equal(JSON.parse(r.out), ['deploy', 'escape', 'fails'])
})

maybe('run: files in /build and /tmp, Hercules variables, the secret its secretsMap names (hidden in the output)', () => {
  const r = cli('--path', repo, '--branch', 'main', '--secrets', secretsFile, 'run', 'deploy')
  assert.is(r.code, 0, r.err + r.out)
  assert.match(r.out, /deploying git\/repo rev [0-9a-f]{40} branch main/)
  assert.match(r.out, 'home=/homeless-shelter tmpdir=/build secrets=/run/secrets.json in=true pwd=/build')
  assert.match(r.out, 'build file: written')
  assert.match(r.out, 'tmp file: tmp')
  assert.match(r.out, '"token":{"data":{"token":"<secret>"}}', 'the effect read its secret; the output hides the value')
  assert.not.match(r.out + r.err, SECRET)
  assert.not.match(r.out + r.err, OTHER)
  assert.match(r.err, 'secrets: token')
})

maybe('run escape: every escape attempt fails and the host is untouched', async () => {
  const r = await run('--path', repo, '--branch', 'main', '--secrets', secretsFile, 'run', 'escape')
  assert.is(r.code, 0, r.err + r.out)
  const lines = r.out.split('\n').filter((l) => l.startsWith('ESCAPE '))
  console.log(`escape attempts tried:\n${lines.map((l) => `  ${l}`).join('\n')}`)
  assert.is(lines.length, ESCAPES.length, r.out)
  for (const name of ESCAPES) assert.ok(lines.includes(`ESCAPE ${name}: blocked`), `${name}: ${r.out}`)
  assert.equal(readdirSync(hostDir), [])
  assert.not.ok(existsSync('/nix/store/escape-attempt'))
  assert.not.ok(existsSync('/root/escaped'))
})

maybe("a secret whose condition does not hold is refused (a branch that is not the default), and the effect does not run", async () => {
  const r = await run('--path', repo, '--branch', 'feature', '--secrets', secretsFile, 'run', 'deploy')
  assert.is(r.code, 1)
  assert.match(r.err, /secret 'deploy' \(as 'token'\): its condition .* does not hold here \(branch feature/)
  assert.not.match(r.out, 'deploying')
  assert.not.match(r.out + r.err, SECRET)
})

maybe('run-all runs every effect and fails if one did', async () => {
  const all = await run('--path', repo, '--branch', 'main', '--secrets', secretsFile, 'run-all')
  assert.is(all.code, 1)
  for (const n of ['deploy', 'escape', 'fails']) assert.match(all.err, `=== ${n}`)
  assert.match(all.err, 'effect fails failed (exit code 3)')
})

maybe('a flake reference: FLAKEREF#EFFECT (a failing effect exits with its code)', async () => {
  const ref = `git+file://${repo}?ref=main`
  const r = await run('run', `${ref}#fails`)
  assert.is(r.code, 3, r.err)
  assert.match(r.out, 'about to fail')
  const bad = await run('run', '#x')
  assert.is(bad.code, 2)
})

maybe('list-schedules and run-scheduled: when, effects and the cron line (unset minute and hour spread by the name)', async () => {
  const r = await run('--path', repo, 'list-schedules')
  assert.is(r.code, 0, r.err)
  const s = JSON.parse(r.out) as Record<string, { when: unknown; effects: string[]; cron: string }>
  assert.equal(s.nightly, { when: { hour: 3, minute: 30 }, effects: ['update'], cron: '30 3 * * *' })
  const sp = spreadOf('weekly')
  assert.equal(s.weekly, { when: { dayOfWeek: ['Mon'] }, effects: ['report', 'update'], cron: `${sp.minute} ${sp.hour} * * 1` })
  const sched = await run('--path', repo, 'run-scheduled', 'weekly', 'report')
  assert.is(sched.code, 0, sched.err)
  assert.match(sched.out, 'report')
  const missing = await run('--path', repo, 'run-scheduled', 'weekly', 'nope')
  assert.is(missing.code, 1)
  assert.match(missing.err, "no effect named 'nope'")
})

test('--help for the command and each subcommand; mistakes exit 2 with the usage', async () => {
  const top = cli('--help')
  assert.is(top.code, 0)
  for (const c of ['list', 'run', 'run-all', 'list-schedules', 'run-scheduled']) {
    assert.match(top.out, c)
    const h = await run(c, '--help')
    assert.is(h.code, 0)
    assert.match(h.out, `Usage: buildbot-effects [options] ${c}`)
  }
  assert.match((await run('run', '--help')).out, '--secrets FILE')
  const bad = await run('frobnicate')
  assert.is(bad.code, 2)
  assert.match(bad.err, "unknown command 'frobnicate'")
  assert.is((await run('run')).code, 2)
  assert.is((await run('--bogus', 'list')).code, 2)
})

test.run()
