/**
 * A small CI history in the exact shapes of Buildbot's data API (and the `nixjobs` contract),
 * for browser tests and the UI benchmark while no real master is wired in.
 */
export type Row = Record<string, unknown>

export interface Fixtures {
  projects: Row[]
  builders: Row[]
  builds: Row[]
  /** buildid → its properties `{name: [value, source]}` */
  properties: Map<number, Row>
  /** `nixgrid/<ids>` of the Nix plugin (history grid); none unless a test or benchmark sets it. */
  grid?: (buildids: number[]) => Row
  steps: Row[]
  logs: Row[]
  /** logid → lines with their stream prefix (`o`, `e`, `h`) for stdio logs */
  logLines: Map<number, string[]>
  buildrequests: Row[]
  buildsets: Row[]
  workers: Row[]
  forceschedulers: Row[]
  nixjobs: Row[]
  changes: Row[]
}

// Recent, so running builds show plausible durations.
const T0 = Math.floor(Date.now() / 1000) - 3600
const sourced = (o: Row, source = 'Change'): Row => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, [v, source]]))

export const EVAL_BUILD = 3
export const CHILD_BUILD = 4
export const LOG_ID = 411
export const SYSTEMS = ['x86_64-linux', 'aarch64-linux']

export function makeJob(jobid: number, state: string, t0ms: number): Row {
  const system = SYSTEMS[jobid % SYSTEMS.length]
  const attr = `${system}.pkg-${String(jobid).padStart(5, '0')}`
  const queued = t0ms + (jobid % 97) * 1000
  const started = state === 'pending' ? null : queued + (jobid % 13) * 500
  const complete = state === 'pending' || state === 'building' ? null : started! + 2000 + (jobid % 31) * 700
  const failed = state === 'failed'
  return {
    jobid, buildid: EVAL_BUILD, attr, system, drv_path: `/nix/store/${String(jobid).padStart(32, 'a')}-pkg.drv`,
    out_path: null, state, results: complete ? (failed ? 2 : 0) : null, reason: failed ? 'builder failed with exit code 1' : null,
    child_buildid: jobid === 1 ? CHILD_BUILD : null, child_builderid: jobid === 1 ? 2 : null, child_number: jobid === 1 ? 1 : null,
    buildrequestid: null, queued_at: queued / 1000, started_at: started == null ? null : started / 1000, complete_at: complete == null ? null : complete / 1000, first_failure_url: null,
  }
}

/** `jobs` attributes in the evaluation build; `logLines` lines in the child build's stdio log. */
export function makeFixtures(opts: { jobs?: number; logLines?: number } = {}): Fixtures {
  const jobCount = opts.jobs ?? 200
  const logCount = opts.logLines ?? 500
  const projects = [
    { projectid: 1, name: 'acme/hello', slug: 'acme-hello', active: null, description: 'Hello flake', description_format: null, description_html: null },
    { projectid: 2, name: 'acme/tools', slug: 'acme-tools', active: null, description: null, description_format: null, description_html: null },
  ]
  const builder = (builderid: number, name: string, projectid: number | null) =>
    ({ builderid, name, masterids: [1], description: null, description_format: null, description_html: null, projectid, tags: projectid ? ['nix'] : [] })
  const builders = [builder(1, 'acme/hello/nix-eval', 1), builder(2, 'acme/hello/nix-build', 1), builder(3, 'acme/tools/nix-eval', 2), builder(4, 'reload-github-projects', null)]
  const build = (buildid: number, builderid: number, number: number, results: number | null, state: string, brid: number) => ({
    buildid, number, builderid, buildrequestid: brid, workerid: 1, masterid: 1, started_at: T0 + buildid * 60,
    complete: results !== null, complete_at: results !== null ? T0 + buildid * 60 + 45 : null, locks_duration_s: 0,
    results, state_string: state, properties: {},
  })
  const builds = [
    build(1, 1, 1, 0, 'build successful', 1), build(2, 1, 2, 2, 'failed', 2), build(3, 1, 3, null, 'building flakes', 3),
    build(4, 2, 1, 0, 'build successful', 4), build(5, 3, 1, 0, 'build successful', 5),
  ]
  const evalProps = (branch: string, event: string, extra: Row = {}) =>
    sourced({ nix_attribute: 'checks', project: 'acme/hello', branch, event, revision: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', ...extra })
  const properties = new Map<number, Row>([
    [1, evalProps('main', 'push')],
    [2, evalProps('feature', 'pull_request', { pr_number: 7 })],
    [3, evalProps('main', 'push')],
    [4, sourced({ attr: 'x86_64-linux.pkg-00001', system: 'x86_64-linux', virtual_builder_name: 'acme/hello#checks.x86_64-linux.pkg-00001', status_name: 'nix-build .#checks.x86_64-linux.pkg-00001' }, 'nix')],
    [5, sourced({ nix_attribute: 'checks', project: 'acme/tools', branch: 'main', event: 'push', revision: 'ffff' })],
  ])
  const step = (stepid: number, buildid: number, number: number, name: string, results: number | null, started: boolean) => ({
    stepid, number, name, buildid, started_at: started ? T0 + buildid * 60 + number : null, locks_acquired_at: null,
    complete: results !== null, complete_at: results !== null ? T0 + buildid * 60 + number * 5 : null, results,
    state_string: name, urls: [], hidden: false,
  })
  const steps = [
    step(31, 3, 0, 'checkout', 0, true), step(32, 3, 1, 'evaluate', 1, true), step(33, 3, 2, 'build_flakes', null, true),
    step(41, 4, 0, 'build', 0, true),
  ]
  const log = (logid: number, stepid: number, name: string, type: string, lines: number, complete = true) =>
    ({ logid, name, slug: name.replace(/[^a-z0-9_-]/gi, '_'), stepid, complete, num_lines: lines, type })
  const stdio: string[] = ['hnix build /nix/store/x.drv']
  for (let i = 1; i < logCount; i++) {
    if (i % 1000 === 7) stdio.push(`e\x1b[31merror:\x1b[0m something odd at line ${i + 1}`)
    else stdio.push(`obuilding step ${i + 1} of pkg-00001`)
  }
  const warnings = ['warning: input "nixpkgs" is locked to an old revision']
  const logs = [log(321, 32, 'stdio', 's', 3), log(322, 32, 'warnings', 't', warnings.length), log(LOG_ID, 41, 'stdio', 's', stdio.length, false)]
  const logLines = new Map<number, string[]>([[321, ['hnix-eval-jobs --flake .#checks', 'oevaluated', 'hexit 0']], [322, warnings], [LOG_ID, stdio]])
  const request = (buildrequestid: number, builderid: number, buildsetid: number, complete: boolean, claimed: boolean) => ({
    buildrequestid, buildsetid, builderid, priority: 0, claimed, claimed_at: claimed ? T0 : null,
    claimed_by_masterid: claimed ? 1 : null, complete, results: complete ? 0 : -1, submitted_at: T0 + buildrequestid,
    complete_at: complete ? T0 + 100 : null, waited_for: false, properties: null,
  })
  const buildrequests = [request(1, 1, 1, true, true), request(2, 1, 2, true, true), request(3, 1, 3, false, true),
    request(4, 2, 4, true, true), request(5, 3, 5, true, true), request(6, 2, 4, false, false), request(7, 2, 4, false, false)]
  const buildsets = [1, 2, 3, 4, 5].map((bsid) => ({
    bsid, external_idstring: null, reason: 'push', rebuilt_buildid: null, submitted_at: T0, complete: bsid !== 3 && bsid !== 4,
    complete_at: null, results: -1, sourcestamps: [], parent_buildid: bsid === 4 ? EVAL_BUILD : null, parent_relationship: bsid === 4 ? 'triggered' : null,
  }))
  const workers = [
    { workerid: 1, name: 'local', connected_to: [{ masterid: 1 }], configured_on: [{ masterid: 1, builderid: 1 }], workerinfo: { admin: null, host: 'ci-1', access_uri: null, version: '3.7.0' }, paused: false, pause_reason: null, graceful: false },
    { workerid: 2, name: 'arm-1', connected_to: [], configured_on: [], workerinfo: {}, paused: true, pause_reason: 'maintenance', graceful: false },
  ]
  const field = (name: string, type: string, extra: Row = {}) => ({ name, fullName: name, label: name, tablabel: name, type, default: '', required: false, multiple: false, regex: null, hide: false, maxsize: null, autopopulate: null, tooltip: '', ...extra })
  const forceschedulers = [{
    name: 'force-hello', button_name: 'Force build', label: 'Force hello', builder_names: ['acme/hello/nix-eval'], enabled: true,
    all_fields: [{ ...field('', 'nested'), fullName: null, layout: 'vertical', columns: 1, fields: [field('username', 'username'), field('reason', 'text', { default: 'force build' })] },
      { ...field('', 'nested'), fullName: null, label: 'Source', fields: [field('branch', 'text', { default: 'main' }), field('revision', 'text')] }],
  }]
  const t0ms = Date.now() - 150_000
  const nixjobs: Row[] = []
  for (let i = 1; i <= jobCount; i++) {
    const state = i % 50 === 0 ? 'failed' : i % 37 === 0 ? 'building' : i % 41 === 0 ? 'pending' : i % 97 === 0 ? 'dependency-failed' : 'success'
    nixjobs.push(makeJob(i, state, t0ms))
  }
  const changes = [{ changeid: 1, parent_changeids: [], author: 'Ada <ada@example.org>', committer: null, files: ['flake.nix'], comments: 'Update flake inputs\n\nbody', revision: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', when_timestamp: T0, branch: 'main', category: 'push', revlink: 'https://example.org/acme/hello/commit/a1b2c3d4', properties: {}, repository: 'https://example.org/acme/hello', project: 'acme/hello', codebase: '', sourcestamp: {} }]
  return { projects, builders, builds, properties, steps, logs, logLines, buildrequests, buildsets, workers, forceschedulers, nixjobs, changes }
}
