import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHarness, seed, type Harness } from '../test-harness.ts'
import { builtinEndpoints } from './registry.ts'
import type { FieldType } from '../result-spec.ts'

// One request per path pattern of the registry, with the seeded ids substituted: every pattern
// must answer 200 with Buildbot's envelope and exactly the fields of its resource type.
let h: Harness
let ids: Awaited<ReturnType<typeof seed>>

test.before(async () => { h = await createHarness(); ids = await seed(h) })
test.after(async () => { await h.close() })

function concrete(pattern: string): string {
  const values: Record<string, string | number> = {
    builderid: ids.b1, buildername: 'b1', build_number: 1, buildid: ids.build1.buildid, buildrequestid: ids.build1.buildrequestid,
    changeid: ids.change.changeid, workerid: ids.workerid, name: 'w1', masterid: ids.masterid, projectid: ids.projectid,
    projectname: 'demo', stepid: ids.step.stepid, step_name: 'compile', step_number: 0, logid: ids.log.logid, log_slug: 'stdio',
    bsid: ids.bs1.bsid, buildsetid: ids.bs1.bsid, ssid: ids.change.sourcestamp.ssid, schedulerid: ids.schedulerid,
    changesourceid: ids.changesourceid, schedulername: 'force',
  }
  return pattern.split('/').map((seg) => {
    const m = /^[nis]?:(.+)$/.exec(seg)
    if (!m) return seg
    if (!(m[1]! in values)) throw new Error(`no test value for ${seg}`)
    return String(values[m[1]!])
  }).join('/')
}

function typeOk(t: FieldType, v: unknown): boolean {
  if (v === null) return true
  switch (t) {
    case 'int': case 'epoch': return Number.isInteger(v)
    case 'str': case 'ident': return typeof v === 'string'
    case 'bool': return typeof v === 'boolean'
    case 'list': return Array.isArray(v)
    case 'object': return typeof v === 'object' && !Array.isArray(v)
  }
}

for (const def of builtinEndpoints) {
  for (const pattern of def.patterns) {
    test(`GET /api/v2/${pattern} (${def.kind})`, async () => {
      const url = `/api/v2/${concrete(pattern)}`.replace(/\/$/, '')
      const res = await h.server.app.inject({ method: 'GET', url, headers: { accept: 'application/json' } })
      assert.is(res.statusCode, 200, `${url}: ${res.body}`)
      if (def.kind === 'raw' || def.kind === 'raw_inline') {
        assert.is(res.headers['content-type'], 'text/plain; charset=utf-8')
        assert.is(!!res.headers['content-disposition'], def.kind === 'raw')
        assert.ok(res.body.startsWith('Builder: b1\nBuild number: 1\nWorker name: w1\nmake\n'), res.body)
        return
      }
      assert.is(res.headers['content-type'], 'application/json; charset=utf-8')
      const body = JSON.parse(res.body)
      assert.equal(Object.keys(body).sort(), ['meta', def.type.plural].sort())
      const list = body[def.type.plural]
      assert.ok(Array.isArray(list))
      if (def.kind === 'single') {
        assert.equal(body.meta, {})
        assert.is(list.length, 1)
      } else {
        assert.is(body.meta.total, list.length)
        if (!pattern.includes('triggered_builds')) assert.ok(list.length > 0, `${url} is empty`)
      }
      const fields = Object.keys(def.type.fields)
      if (!fields.length) return
      for (const e of list) {
        assert.equal(Object.keys(e).sort(), [...fields].sort(), url)
        for (const f of fields) assert.ok(typeOk(def.type.fields[f]!, e[f]), `${url}: ${f}=${JSON.stringify(e[f])} is not ${def.type.fields[f]}`)
      }
    })
  }
}

test('incomplete buildrequests and buildsets have results -1, incomplete builds null', async () => {
  const br = JSON.parse((await h.server.app.inject(`/api/v2/buildrequests/${ids.bs2.brids[ids.b2]}`)).body).buildrequests[0]
  assert.is(br.results, -1)
  assert.is(br.properties, null)
  const bs = JSON.parse((await h.server.app.inject(`/api/v2/buildsets/${ids.bs2.bsid}`)).body).buildsets[0]
  assert.is(bs.results, -1)
  const b = JSON.parse((await h.server.app.inject(`/api/v2/builds/${ids.build2.buildid}`)).body).builds[0]
  assert.is(b.results, null)
  assert.is(b.complete, false)
})

test('log contents honour offset and limit; out of range is 404', async () => {
  const one = JSON.parse((await h.server.app.inject('/api/v2/logs/1/contents?offset=1&limit=1')).body)
  assert.equal(one, { logchunks: [{ logid: 1, firstline: 1, content: 'obuilt\n' }], meta: {} })
  assert.is((await h.server.app.inject('/api/v2/logs/1/contents?offset=3')).statusCode, 404)
  const inline = await h.server.app.inject('/api/v2/logs/1/raw_inline')
  assert.is(inline.headers['content-disposition'], undefined)
  const raw = await h.server.app.inject('/api/v2/logs/1/raw')
  assert.is(raw.headers['content-disposition'], 'attachment; filename=b1_build_1_step_compile_log_stdio')
})

test('logchunks root link without a log is 404', async () => {
  const res = await h.server.app.inject('/api/v2/logchunks')
  assert.is(res.statusCode, 404)
  assert.equal(JSON.parse(res.body), { error: 'Invalid path: logchunks' })
})

test.run()
