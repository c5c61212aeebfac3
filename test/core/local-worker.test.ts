import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { localWorker, builder, steps, schedulers, FAILURE, SUCCESS, WARNINGS } from '../../core/index.ts'
import { LocalWorkerConnection } from '../../core/workers/local/local-worker.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'

const alive = (pid: number) => { try { process.kill(pid, 0); return true } catch { return false } }

async function stepLogs(h: MasterHarness, buildid: number): Promise<{ name: string; results: number | null; state: string; log: string }[]> {
  const k = h.master.data.db.k
  const out = []
  for (const s of await k.selectFrom('steps').selectAll().where('buildid', '=', buildid).orderBy('number').execute()) {
    const log = await k.selectFrom('logs').selectAll().where('stepid', '=', s.stepid).where('slug', '=', 'stdio').executeTakeFirst()
    out.push({ name: s.name, results: s.results, state: s.state_string, log: log ? await h.master.data.logs.getLogLines(log.logid, 0, 10_000) : '' })
  }
  return out
}

async function runBuild(h: MasterHarness): Promise<{ buildid: number; results: number }> {
  const made = h.waitFor<{ buildid: number }>('builds/*/new')
  const { bsid } = await h.force('force')
  const { buildid } = await made
  await h.waitBuildset(bsid)
  const b = await h.master.data.builds.getBuild(buildid)
  return { buildid, results: b!.results! }
}

eachDb(test, 'shell steps on the local worker: env, workdir, exit codes, decodeRC', async (start) => {
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 'env', workers: ['local'], steps: [
      steps.shell({ name: 'env', command: ['sh', '-c', 'echo "FOO=$FOO P=$PATH H=$WITHHOME"; [ -z "${GONE+x}" ] && echo gone-unset'], env: { FOO: 'bar', PATH: ['/usr/bin', '/bin'] as unknown as string, WITHHOME: '${HOME}/x', GONE: null } }),
      steps.shell({ name: 'pwd', command: ['pwd'], workdir: 'sub/dir' }),
      steps.shell({ name: 'warn', command: ['sh', '-c', 'exit 3'], decodeRC: { 3: WARNINGS } }),
      steps.shell({ name: 'fails', command: ['sh', '-c', 'echo oops >&2; exit 7'], flunkOnFailure: true }),
      steps.shell({ name: 'after', command: ['true'] }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['env'] })],
  })
  process.env.GONE = 'set-in-master'
  try {
    const { buildid, results } = await runBuild(h)
    assert.is(results, FAILURE)
    const s = await stepLogs(h, buildid)
    assert.equal(s.map((x) => [x.name, x.results]), [['env', SUCCESS], ['pwd', SUCCESS], ['warn', WARNINGS], ['fails', FAILURE], ['after', SUCCESS]])
    assert.match(s[0]!.log, `oFOO=bar P=/usr/bin:/bin H=${process.env.HOME}/x\n`)
    assert.match(s[0]!.log, 'ogone-unset\n')
    assert.match(s[1]!.log, `o${join(h.basedir, 'workers', 'local', 'env', 'sub', 'dir')}\n`)
    assert.match(s[3]!.log, 'eoops\n')
    assert.match(s[3]!.log, 'hprogram finished with exit code 7\n')
  } finally { delete process.env.GONE }
}, testDatabases())

eachDb(test, "a local-worker build sees none of the master's environment: PATH, HOME, LANG, nix's variables, passEnvironment and its step's env only", async (start) => {
  const mark = `m${process.pid}x${Math.random().toString(36).slice(2)}`
  const leaked = { [`BBN_MASTER_ONLY_${mark}`]: `master-value-${mark}`, BUILDBOT_SECRET_DEPLOY_KEY: `secret-${mark}`, NIX_REMOTE: 'daemon', PASSED_ON: `chosen-${mark}` }
  const saved = Object.fromEntries(Object.keys(leaked).map((k) => [k, process.env[k]]))
  Object.assign(process.env, leaked)
  try {
    const h = await start({
      workers: [localWorker({ name: 'local', passEnvironment: ['PASSED_ON'] })],
      builders: [builder({ name: 'env', workers: ['local'], steps: [steps.shell({ name: 'env', command: ['env'], env: { FROM_STEP: 'step-value' } })] })],
      schedulers: [schedulers.force({ name: 'force', builderNames: ['env'] })],
    })
    const { buildid, results } = await runBuild(h)
    assert.is(results, SUCCESS)
    const [s] = await stepLogs(h, buildid)
    const vars = new Map(s!.log.split('\n').filter((l) => l.startsWith('o')).map((l) => l.slice(1)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
    assert.not.ok(s!.log.includes(`BBN_MASTER_ONLY_${mark}`), "a variable of the master's own environment reached the build")
    assert.not.ok(s!.log.includes(`master-value-${mark}`))
    assert.not.ok(s!.log.includes(`secret-${mark}`), "the master's secrets environment reached the build")
    assert.is(vars.get('PATH'), process.env.PATH)
    assert.is(vars.get('HOME'), process.env.HOME)
    assert.is(vars.get('NIX_REMOTE'), 'daemon')
    assert.is(vars.get('PASSED_ON'), `chosen-${mark}`)
    assert.is(vars.get('FROM_STEP'), 'step-value')
    if (process.env.LANG) assert.is(vars.get('LANG'), process.env.LANG)
    const allowed = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'PASSED_ON', 'FROM_STEP', 'PWD', 'SHLVL', '_', 'OLDPWD'])
    for (const name of vars.keys()) assert.ok(allowed.has(name) || /^(NIX_|SSL_CERT_|GIT_SSL_CAINFO$)/.test(name), `unexpected variable in the build: ${name}`)
  } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v }
  }
}, testDatabases())

eachDb(test, 'timeouts: no output for `timeout` seconds, `maxTime` in all; the process group is killed', async (start) => {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-lw-'))
  const pidA = join(dir, 'a'), pidB = join(dir, 'b')
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 't', workers: ['local'], steps: [
      steps.shell({ name: 'silent', timeout: 1, command: ['sh', '-c', `sleep 300 & echo $! > ${pidA}; wait`] }),
      steps.shell({ name: 'chatty', maxTime: 1, timeout: 30, command: ['sh', '-c', `sleep 300 & echo $! > ${pidB}; while true; do echo tick; sleep 0.1; done`] }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['t'] })],
  })
  try {
    const { buildid, results } = await runBuild(h)
    assert.is(results, FAILURE)
    const s = await stepLogs(h, buildid)
    assert.equal(s.map((x) => x.results), [FAILURE, FAILURE])
    assert.match(s[0]!.state, /\(timeout_without_output\)/)
    assert.match(s[0]!.log, 'command timed out: 1 seconds without output, attempting to kill')
    assert.match(s[1]!.state, /\(timeout\)/)
    assert.match(s[1]!.log, 'otick\n')
    assert.match(s[1]!.log, 'command timed out: 1 seconds elapsed, attempting to kill')
    for (const f of [pidA, pidB]) {
      const pid = Number(readFileSync(f, 'utf8'))
      await h.until(() => !alive(pid), `background child ${pid} to be killed with its group`)
    }
  } finally { rmSync(dir, { recursive: true, force: true }) }
}, testDatabases())

test('the local worker interrupts on abort (whole group), runs file commands and resolves relative paths', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-lw-'))
  try {
    const w = new LocalWorkerConnection('w', dir)
    await w.setBuilderList([{ name: 'b', builddir: 'b' }])
    assert.ok(existsSync(join(dir, 'b')))
    const out: string[] = []
    const ac = new AbortController()
    const pidFile = join(dir, 'pid')
    const running = w.runCommand({ name: 'shell', builderName: 'b', args: { command: ['sh', '-c', `sleep 300 & echo $! > ${pidFile}; echo started; wait`], workdir: 'build' } },
      { output: (s, t) => { out.push(t); if (s === 'o' && t.includes('started')) ac.abort() } }, ac.signal)
    const res = await running
    assert.is(res.failureReason, 'interrupted')
    assert.ok(res.rc !== 0)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10))
    assert.not.ok(alive(pid), 'the background sleep survived the interrupt')

    assert.is((await w.runCommand({ name: 'mkdir', builderName: 'b', args: { paths: ['x/y'] } }, {})).rc, 0)
    assert.ok(existsSync(join(dir, 'b', 'x', 'y')))
    const st = await w.runCommand({ name: 'stat', builderName: 'b', args: { path: 'x' } }, {})
    assert.is(st.rc, 0)
    const missing = await w.runCommand({ name: 'stat', builderName: 'b', args: { path: 'nope' } }, {})
    assert.ok(missing.rc !== 0)
    const errs: string[] = []
    const nostart = await w.runCommand({ name: 'shell', builderName: 'b', args: { command: ['/nonexistent/cmd'], workdir: 'build' } }, { output: (s, t) => { if (s === 'e') errs.push(t) } })
    assert.is(nostart.rc, -1)
    assert.match(errs.join(''), /ENOENT/)
    const got: string[] = []
    const stdin = await w.runCommand({ name: 'shell', builderName: 'b', args: { command: 'tr a-z A-Z', workdir: 'build', initial_stdin: 'shout\n', logEnviron: true, env: { MARK: 'm1' } } },
      { output: (s, t) => got.push(`${s}:${t}`) })
    assert.is(stdin.rc, 0)
    assert.ok(got.some((l) => l.startsWith('o:') && l.includes('SHOUT')), got.join(''))
    assert.ok(got.some((l) => l.startsWith('h:') && l.includes('  MARK=m1\n')), 'logEnviron lists the environment')
  } finally { rmSync(dir, { recursive: true, force: true }) }
})

test.run()
