import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bus } from '../bus/bus.ts'
import { connectDb, type Db } from '../db/connect.ts'
import { createData, type Data } from '../data/data.ts'
import { createLogger } from '../util/logger.ts'
import { SUCCESS, FAILURE } from '../util/results.ts'
import type { HttpSurface, WwwConfig } from './master-surface.ts'
import { createHttpServer, type HttpServer, type HttpServerOptions } from './server.ts'
import { WorkerManager } from '../workers/worker-manager.ts'
import { BuildRequestDistributor } from '../process/build-request-distributor.ts'
import { SchedulerHost } from '../scheduler-host.ts'
import { createMasterControl } from '../master-control.ts'
import { force } from '../schedulers/force.ts'
import { builder } from '../process/builder-config.ts'
import { shell } from '../steps/shell.ts'
import type { MasterControl } from './master-surface.ts'
import { projectOfBuilder } from '../data/project-of-builder.ts'

/** Test fixture: a real sqlite file, the data layer, the master's control and the HTTP server on top. */
export interface Harness {
  dir: string; db: Db; bus: Bus; data: Data; control: MasterControl; surface: HttpSurface; server: HttpServer
  close(): Promise<void>
}

/**
 * The master's own control (`createMasterControl`) on real engine parts over `data`: builders
 * b1 and b2 (no worker connects, so nothing runs) and a force scheduler 'force' for both.
 */
export async function engineControl(data: Data): Promise<{ control: MasterControl; stop(): Promise<void> }> {
  const log = createLogger({ level: 'silent' })
  if (!data.masterid) data.setMasterId(await data.masters.masterActive('m1'))
  const workers = new WorkerManager(data, log, () => brd.kick(), () => brd.workerLost())
  const brd = new BuildRequestDistributor(data, log, workers, () => { throw new Error('the HTTP harness runs no builds') }, () => true)
  const schedulers = new SchedulerHost(data, log, brd, () => ({}))
  const quick = (name: string) => builder({ name, workers: ['w1'], steps: [shell({ command: ['true'] })] })
  brd.setBuilders([{ config: quick('b1'), builderid: await data.builders.findBuilderId('b1') }, { config: quick('b2'), builderid: await data.builders.findBuilderId('b2') }])
  await schedulers.apply([force({ name: 'force', builderNames: ['b1', 'b2'] })])
  return {
    control: createMasterControl({ data, brd, workers, schedulers }),
    async stop() { await schedulers.stop(); await brd.stop({ interruptBuilds: true }) },
  }
}

/**
 * `dbUrl`: another database than the default sqlite file (e.g. a PostgreSQL test database);
 * `connect`: options of `connectDb` (e.g. a short wait for an unreachable server).
 */
export async function createHarness(opts: { www?: Partial<WwwConfig>; surface?: Partial<HttpSurface>; server?: HttpServerOptions; dbUrl?: (dir: string) => Promise<string>; connect?: Parameters<typeof connectDb>[1] } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-http-'))
  const db = await connectDb(opts.dbUrl ? await opts.dbUrl(dir) : `sqlite:${join(dir, 'state.sqlite')}`, opts.connect)
  const bus = new Bus()
  const data = createData({ db, bus })
  const engine = await engineControl(data)
  const control = engine.control
  const www: WwwConfig = { host: '127.0.0.1', port: 0, auth: { kind: 'none' }, authz: 'default', access: 'public', ...opts.www }
  const surface: HttpSurface = {
    data, bus, control, log: createLogger({ level: 'silent' }), title: 'Test CI', buildbotURL: 'http://127.0.0.1:8010/', www,
    rpcActions: () => [], restEndpoints: () => [], changeHooks: () => [], loginProviders: () => [], roleMatchers: () => [],
    projectOf: (name) => projectOfBuilder(data, name), ...opts.surface,
  }
  const server = createHttpServer(surface, opts.server)
  return {
    dir, db, bus, data, control, surface, server,
    async close() { await server.close(); await engine.stop(); await db.close(); rmSync(dir, { recursive: true, force: true }) },
  }
}

/**
 * Seeds a small world through the update methods: master 1, project `demo`, builders b1 (in demo)
 * and b2, worker w1, one change, two forced buildsets, builds 1 (b1, finished SUCCESS, with a
 * step and a stdio log of 3 lines) and 2 (b2, running), scheduler and change source rows.
 */
export async function seed(h: Harness) {
  const { data, db } = h
  const masterid = await data.masters.masterActive('m1')
  data.setMasterId(masterid)
  const projectid = await data.projects.findProjectId('demo', 'Demo project')
  const b1 = await data.builders.findBuilderId('b1')
  const b2 = await data.builders.findBuilderId('b2')
  await data.builders.updateBuilderInfo(b1, { description: 'first', projectid, tags: ['nix', 'fast'] })
  await data.builders.updateBuilderList(masterid, [b1, b2])
  const workerid = await data.workers.findWorkerId('w1')
  await data.workers.workerConfigured(workerid, [b1, b2])
  await data.workers.workerConnected(workerid, { host: 'h1', version: '3.7' })
  const change = await data.changes.addChange({ author: 'alice <a@x>', comments: 'fix', branch: 'main', revision: 'abc', repository: 'r', project: 'demo', files: ['a.nix'] })
  const [bs1, bs2] = await data.buildsets.addBuildsets([
    { reason: 'push', builderids: [b1], sourcestamps: [change.sourcestamp.ssid], scheduler: 'push', properties: { owner: ['alice', 'Force Build Form'] } },
    { reason: 'push', builderids: [b2], sourcestamps: [change.sourcestamp.ssid], scheduler: 'push' },
  ])
  await data.buildrequests.claimBuildRequests([bs1!.brids[b1]!, bs2!.brids[b2]!])
  const build1 = await data.builds.addBuild({ builderid: b1, buildrequestid: bs1!.brids[b1]!, workerid, state_string: 'building', properties: { owner: ['alice', 'Force Build Form'] } })
  const step = await data.steps.addStep(build1.buildid, 0, 'compile')
  await data.steps.startStep(step.stepid)
  const log = await data.logs.addLog(step.stepid, 'stdio', 's')
  await data.logs.appendLog(log.logid, 'hmake\nobuilt\neoops\n')
  await data.logs.finishLog(log.logid)
  await data.steps.finishStep(step.stepid, SUCCESS)
  await data.builds.finishBuild(build1.buildid, SUCCESS)
  await data.buildrequests.completeBuildRequests([bs1!.brids[b1]!], SUCCESS)
  const build2 = await data.builds.addBuild({ builderid: b2, buildrequestid: bs2!.brids[b2]!, workerid, state_string: 'building' })
  const schedulerid = await data.schedulers.findSchedulerId('push')
  await data.schedulers.setSchedulerMaster(schedulerid, masterid)
  const cs = await db.k.insertInto('changesources').values({ name: 'poller' }).returning('changesourceid').executeTakeFirstOrThrow()
  await db.k.insertInto('changesource_masters').values({ changesourceid: cs.changesourceid, masterid }).execute()
  void FAILURE
  return { masterid, projectid, b1, b2, workerid, change, bs1: bs1!, bs2: bs2!, build1, build2, step, log, schedulerid, changesourceid: cs.changesourceid }
}
