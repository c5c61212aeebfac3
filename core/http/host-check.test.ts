import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { request } from 'node:http'
import { allowedHostNames, hostName, hostRefusal } from './host-check.ts'
import { createHarness } from './test-harness.ts'

test('host names: ports and brackets removed, case folded', () => {
  assert.is(hostName('CI.Example.org:8010'), 'ci.example.org')
  assert.is(hostName('[::1]:8010'), '::1')
  assert.is(hostName('127.0.0.1'), '127.0.0.1')
})

test('allowed names: buildbotURL, www.host, allowedHosts, loopback names on a loopback or wildcard bind', () => {
  assert.equal(allowedHostNames({ buildbotURL: 'https://ci.example.org/', host: '10.0.0.5' }).sort(), ['10.0.0.5', 'ci.example.org'])
  // On all interfaces: the machine's own addresses too.
  assert.equal(allowedHostNames({ buildbotURL: 'https://ci.example.org/', host: '0.0.0.0', interfaceAddresses: () => ['192.168.1.5', 'fe80::1'] }).sort(),
    ['127.0.0.1', '192.168.1.5', '::1', 'ci.example.org', 'fe80::1', 'localhost'])
  assert.equal(allowedHostNames({ buildbotURL: 'http://127.0.0.1:8010/', host: '127.0.0.1' }).sort(), ['127.0.0.1', '::1', 'localhost'])
  assert.ok(allowedHostNames({ buildbotURL: 'https://ci.example.org/', host: '0.0.0.0', allowedHosts: ['*.ci.example.org'] }).includes('*.ci.example.org'))
  const allowed = allowedHostNames({ buildbotURL: 'https://ci.example.org/', host: '0.0.0.0', allowedHosts: ['*.ci.example.org'], interfaceAddresses: () => [] })
  assert.is(hostRefusal('ci.example.org', allowed), undefined)
  assert.is(hostRefusal('pr-1.ci.example.org:443', allowed), undefined)
  assert.is(hostRefusal('127.0.0.2:8010', allowed), undefined)
  assert.is(hostRefusal('evil.example.com', allowed)?.status, 421)
  assert.is(hostRefusal(undefined, allowed)?.status, 400)
  assert.is(hostRefusal('ci.example.org.evil.com', allowed)?.status, 421)
})

/** A raw HTTP/1.1 request with a chosen Host header, as a DNS-rebinding page would make. */
function rawGet(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

test('a loopback master refuses a foreign Host on every route, change hooks included', async () => {
  const hooked: string[] = []
  const h = await createHarness({ surface: { changeHooks: () => [{ dialect: 'base', owner: 'test', async handle() { hooked.push('x'); return { status: 200, body: 'ok' } } }] } })
  try {
    const { port } = await h.server.listen()
    for (const path of ['/api/v2/builds', '/config', '/', '/auth/login', '/change_hook/base']) {
      const res = await rawGet(port, path, `rebound.attacker.example:${port}`)
      assert.is(res.status, 421, path)
      assert.match(res.body, /does not answer to the host name 'rebound\.attacker\.example'.*www\.allowedHosts/)
    }
    assert.equal(hooked, [])
    assert.is((await rawGet(port, '/api/v2/builds', `127.0.0.1:${port}`)).status, 200)
    assert.is((await rawGet(port, '/api/v2/builds', `localhost:${port}`)).status, 200)
    assert.is((await rawGet(port, '/change_hook/base', `127.0.0.1:${port}`)).status, 200)
    // The list is read per request: allowedHosts added by a reconfigure applies at once.
    h.surface.www = { ...h.surface.www, allowedHosts: ['rebound.attacker.example'] }
    assert.is((await rawGet(port, '/api/v2/builds', `rebound.attacker.example:${port}`)).status, 200)
  } finally { await h.close() }
})

test.run()
