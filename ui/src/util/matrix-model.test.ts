import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { countStates, naturalIndex, timelineStats, visibleJobs, type NixJob } from './matrix-model.ts'

const job = (jobid: number, attr: string, state: string, t?: [number, number, number | null]): NixJob => ({
  jobid, buildid: 1, attr, system: 'x86_64-linux', drv_path: null, out_path: null, state, results: null,
  reason: null, child_buildid: null, child_builderid: null, child_number: null, buildrequestid: null,
  queued_at: t?.[0] ?? null, started_at: t?.[1] ?? null, complete_at: t?.[2] ?? null, first_failure_url: null,
})

test('failures come first, then by name', () => {
  const jobs = [job(1, 'b', 'success'), job(2, 'a', 'success'), job(3, 'z', 'failed'), job(4, 'c', 'building')]
  assert.equal(visibleJobs(jobs, '', '').map((j) => j.attr), ['z', 'c', 'a', 'b'])
  assert.equal(visibleJobs(jobs, 'failed', '').map((j) => j.attr), ['z'])
  assert.equal(visibleJobs(jobs, '', 'A').map((j) => j.attr), ['a'])
  assert.is(countStates(jobs).get('success'), 2)
  const more = [...jobs, job(5, 'arm', 'unsupported-system'), job(6, 'dep', 'dependency-failed')]
  assert.equal(visibleJobs(more, 'skipped', '').map((j) => j.attr), ['arm'])
  assert.equal(visibleJobs(more, 'failed', '').map((j) => j.attr), ['z', 'dep'])
})

test('a natural index sorts as the collator does: unit-2 before unit-10', () => {
  const jobs = [job(1, 'unit-10', 'success'), job(2, 'unit-2', 'success'), job(3, 'unit-1', 'failed'), job(4, 'Unit-3', 'success')]
  const order = naturalIndex(jobs)
  assert.equal(visibleJobs(jobs, '', '', order).map((j) => j.attr), visibleJobs(jobs, '', '').map((j) => j.attr))
  assert.equal(visibleJobs(jobs, '', '', order).map((j) => j.attr), ['unit-1', 'unit-2', 'Unit-3', 'unit-10'])
})

test('timeline finds the slowest and the last to finish', () => {
  const jobs = [job(1, 'quick', 'success', [0, 10, 20]), job(2, 'slow', 'success', [0, 5, 100]), job(3, 'late', 'success', [50, 90, 120])]
  const s = timelineStats(jobs, 1000)
  assert.is(s.slowest?.attr, 'slow')
  assert.is(s.last?.attr, 'late')
  assert.is(s.start, 0)
  assert.is(s.end, 120)
})

test.run()
