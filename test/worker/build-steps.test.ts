import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { builder, schedulers, steps, worker, FAILURE, SUCCESS } from '../../core/index.ts'
import { LocalDirectoryWriter, LocalFileReader, LocalFileWriter } from '../../core/workers/transfer.ts'
import { haveTool } from '../support/tools.ts'
import { startWorld } from './worker-world.ts'

const t = haveTool('buildbot-worker', 'apt-get install -y buildbot-worker') ? test : test.skip

async function forceAndWait(w: Awaited<ReturnType<typeof startWorld>>, builderName: string) {
  const res = await w.rpc('forceschedulers/force', 'force', { builderNames: [builderName], reason: 'test' })
  assert.ok(Array.isArray(res.result), JSON.stringify(res))
  await w.h.waitBuildset((res.result as [number])[0], 45_000)
  const builds = await w.builds(builderName)
  assert.is(builds.length, 1)
  return w.finishedBuild(builds[0].buildid)
}

t('a shell command with stdout, stderr and rc 3: FAILURE, and the log has o/e/h lines', async () => {
  const w = await startWorld({
    workers: [worker({ name: 'w1', password: 'pw' })],
    builders: [builder({ name: 'sh', workers: ['w1'], steps: [
      steps.shell({ name: 'noisy', command: ['sh', '-c', 'echo to-stdout; echo to-stderr >&2; printf "no newline"; exit 3'] }),
      steps.shell({ name: 'after', command: ['true'] }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['sh'] })],
  })
  try {
    await w.startWorker('w1', 'pw')
    await w.until(async () => (await w.workerEntity('w1')).connected_to.length > 0, 'w1 to connect')
    const build = await forceAndWait(w, 'sh')
    assert.is(build.results, FAILURE)
    const stepList = (await w.get(`builds/${build.buildid}/steps`)).steps
    assert.equal(stepList.map((s: { name: string; results: number }) => [s.name, s.results]), [['noisy', FAILURE], ['after', SUCCESS]])
    const lines = (await w.stepLog(build.buildid, 0)).split('\n')
    assert.ok(lines.includes('oto-stdout'), lines.join('\n'))
    assert.ok(lines.includes('eto-stderr'), lines.join('\n'))
    assert.ok(lines.includes('ono newline'), lines.join('\n'))
    // Header lines come from the worker (the command, its directory) and from the master (the rc).
    assert.ok(lines.some((l) => l.startsWith('h') && l.includes('to-stdout')), 'the worker header shows the command')
    assert.ok(lines.includes('hprogram finished with exit code 3'), lines.join('\n'))
    for (const l of lines.filter(Boolean)) assert.ok('oeh'.includes(l[0]!), `line without a stream prefix: ${l}`)
  } finally { await w.stop() }
})

t('a step downloads a file to the worker and uploads a file and a directory back: same bytes', async () => {
  const payload = randomBytes(300_000)
  let scratch = ''
  const transfer = steps.custom({
    name: 'transfer',
    async run(ctx) {
      const down = await ctx.runCommand({ name: 'download_file', args: { path: 'build/in.bin', blocksize: 16_384, maxsize: null, mode: 0o640 }, reader: new LocalFileReader(join(scratch, 'src.bin')) })
      if (down.rc !== 0) return FAILURE
      const shell = await ctx.runCommand({ name: 'shell', args: {
        command: ['sh', '-c', 'mkdir -p tree/sub/deeper && cp in.bin tree/sub/deeper/copy.bin && echo hello > tree/a.txt && : > tree/empty'],
        workdir: 'build', timeout: 60,
      } })
      if (shell.rc !== 0) return FAILURE
      const upFile = await ctx.runCommand({ name: 'upload_file', args: { path: 'build/in.bin', blocksize: 8192, maxsize: null, keepstamp: false }, writer: new LocalFileWriter(join(scratch, 'back.bin')) })
      const upDir = await ctx.runCommand({ name: 'upload_directory', args: { path: 'build/tree', blocksize: 8192, maxsize: null, compress: 'gz' }, writer: new LocalDirectoryWriter(join(scratch, 'tree'), { compress: 'gz' }) })
      return upFile.rc === 0 && upDir.rc === 0 ? SUCCESS : FAILURE
    },
  })
  const w = await startWorld({
    workers: [worker({ name: 'w1', password: 'pw' })],
    builders: [builder({ name: 'xfer', workers: ['w1'], steps: [transfer] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['xfer'] })],
  })
  scratch = w.scratch
  try {
    await writeFile(join(scratch, 'src.bin'), payload)
    const tw = await w.startWorker('w1', 'pw')
    await w.until(async () => (await w.workerEntity('w1')).connected_to.length > 0, 'w1 to connect')
    const build = await forceAndWait(w, 'xfer')
    assert.is(build.results, SUCCESS, await w.stepLog(build.buildid, 0).catch(() => 'no log'))
    // On the worker (the same machine here), the downloaded file.
    assert.ok(payload.equals(await readFile(join(tw.dir, 'xfer', 'build', 'in.bin'))))
    // Back on the master, the uploaded file and directory.
    assert.ok(payload.equals(await readFile(join(scratch, 'back.bin'))))
    assert.ok(payload.equals(await readFile(join(scratch, 'tree', 'sub', 'deeper', 'copy.bin'))))
    assert.is(await readFile(join(scratch, 'tree', 'a.txt'), 'utf8'), 'hello\n')
    assert.is((await readFile(join(scratch, 'tree', 'empty'))).length, 0)
  } finally { await w.stop() }
})

test.run()
