import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHarness, type Harness } from './test-harness.ts'

let h: Harness
let noUi: Harness
const hookCalls: { body: string; query: Record<string, string>; event: unknown }[] = []

test.before(async () => {
  h = await createHarness({ surface: { changeHooks: () => [{
    dialect: 'github', owner: 'github',
    async handle(req) {
      hookCalls.push({ body: req.rawBody.toString('utf8'), query: req.query, event: req.headers['x-github-event'] })
      if (req.headers['x-github-event'] === 'boom') throw new Error('kaputt')
      return req.headers['x-github-event'] === 'push' ? { status: 200, body: '1 change found' } : { status: 400, body: 'Unknown event: x' }
    },
  }] } })
  const ui = join(h.dir, 'ui')
  mkdirSync(join(ui, 'assets'), { recursive: true })
  writeFileSync(join(ui, 'index.html'), '<html><head><!-- BUILDBOT_CONFIG_PLACEHOLDER --></head><body></body></html>')
  writeFileSync(join(ui, 'assets', 'app.js'), 'console.log(1)')
  writeFileSync(join(h.dir, 'secret.txt'), 'do not serve')
  h.surface.uiDir = ui
  noUi = await createHarness()
})
test.after(async () => { await h.close(); await noUi.close() })

test('index.html gets the same config object as /config', async () => {
  const res = await h.server.app.inject('/')
  assert.is(res.headers['content-type'], 'text/html; charset=utf-8')
  const m = /<script id="bb-config">window\.buildbotFrontendConfig = (.*);<\/script>/.exec(res.body)
  assert.ok(m, res.body)
  const cfg = await h.server.app.inject('/config')
  assert.is(cfg.headers['cache-control'], 'private, no-store')
  assert.equal(JSON.parse(m![1]!), JSON.parse(cfg.body))
  const c = JSON.parse(cfg.body)
  for (const k of ['title', 'buildbotURL', 'user', 'user_can', 'auth', 'avatar_methods', 'versions', 'multiMaster']) assert.ok(k in c, k)
  assert.is(c.title, 'Test CI')
})

test('static files, client routes, no traversal', async () => {
  const js = await h.server.app.inject('/assets/app.js')
  assert.is(js.statusCode, 200)
  assert.is(js.headers['content-type'], 'text/javascript; charset=utf-8')
  assert.is(js.body, 'console.log(1)')
  assert.ok((await h.server.app.inject('/builders/3')).body.includes('bb-config'))
  assert.is((await h.server.app.inject('/missing.js')).statusCode, 404)
  const trav = await h.server.app.inject('/..%2fsecret.txt')
  assert.not.ok(trav.body.includes('do not serve'))
})

test('without a built UI, / says so', async () => {
  const res = await noUi.server.app.inject('/')
  assert.is(res.statusCode, 200)
  assert.match(res.body, 'not built')
})

test('change hooks: raw body to the dialect, its status back; unknown dialects 400', async () => {
  const payload = '{"ref":"refs/heads/main"}'
  const ok = await h.server.app.inject({ method: 'POST', url: '/change_hook/github?codebase=x', payload, headers: { 'content-type': 'application/json', 'x-github-event': 'push' } })
  assert.is(ok.statusCode, 200)
  assert.is(ok.body, '1 change found')
  assert.equal(hookCalls[0], { body: payload, query: { codebase: 'x' }, event: 'push' })
  const form = await h.server.app.inject({ method: 'POST', url: '/change_hook/github', payload: 'payload=%7B%7D', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': 'x' } })
  assert.is(form.statusCode, 400)
  assert.is(hookCalls[1]!.body, 'payload=%7B%7D')
  const boom = await h.server.app.inject({ method: 'POST', url: '/change_hook/github', payload: '{}', headers: { 'content-type': 'application/json', 'x-github-event': 'boom' } })
  assert.is(boom.statusCode, 500)
  assert.is(boom.body, 'Error processing changes.')
  const unknown = await h.server.app.inject({ method: 'POST', url: '/change_hook/gitlab', payload: '{}', headers: { 'content-type': 'application/json' } })
  assert.is(unknown.statusCode, 400)
  assert.is(unknown.body, "The dialect specified, 'gitlab', wasn't whitelisted in change_hook")
})

test.run()
