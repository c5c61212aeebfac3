import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseRoute, routeHref, type Route } from './route.ts'

test('Buildbot links parse', () => {
  assert.equal(parseRoute('#/builders/3/builds/7'), { name: 'build', buildPath: 'builders/3/builds/7', filter: '', q: '' })
  assert.equal(parseRoute('#/builds/12'), { name: 'build', buildPath: 'builds/12', filter: '', q: '' })
  assert.equal(parseRoute('#/builds/12?filter=failed&q=unit-1'), { name: 'build', buildPath: 'builds/12', filter: 'failed', q: 'unit-1' })
  assert.equal(parseRoute('#/changes'), { name: 'changes' })
  assert.equal(parseRoute('#/builders'), { name: 'builders' })
  assert.equal(parseRoute('#/workers'), { name: 'workers' })
  assert.equal(parseRoute('#/buildrequests'), { name: 'buildrequests' })
  assert.equal(parseRoute('#/buildrequests/5'), { name: 'buildrequest', buildrequestid: 5, follow: false })
  assert.equal(parseRoute('#/buildrequests/5?follow=1'), { name: 'buildrequest', buildrequestid: 5, follow: true })
  assert.equal(parseRoute(''), { name: 'projects' })
  assert.equal(parseRoute('#/projects/4'), { name: 'project', projectid: 4 })
  assert.equal(parseRoute('#/nope/x'), { name: 'notFound', path: 'nope/x' })
  assert.equal(parseRoute('#/login?redirect=%2Fbuilders%2F2'), { name: 'login', redirect: '/builders/2' })
  assert.equal(parseRoute('#/login'), { name: 'login', redirect: '/' })
})

test('log links carry the line', () => {
  assert.equal(parseRoute('#/builds/5/steps/2/logs/stdio?line=123'),
    { name: 'log', buildPath: 'builds/5', step: '2', slug: 'stdio', line: 123 })
  assert.equal(parseRoute('#/builders/1/builds/9/steps/build/logs/warnings'),
    { name: 'log', buildPath: 'builders/1/builds/9', step: 'build', slug: 'warnings', line: null })
})

test('routeHref is the inverse of parseRoute', () => {
  const routes: Route[] = [
    { name: 'projects' }, { name: 'project', projectid: 2 }, { name: 'builder', builderid: 3 },
    { name: 'build', buildPath: 'builds/4', filter: '', q: '' }, { name: 'build', buildPath: 'builds/4', filter: 'failed', q: 'a b' },
    { name: 'workers' }, { name: 'buildrequests' }, { name: 'buildrequest', buildrequestid: 3, follow: false },
    { name: 'buildrequest', buildrequestid: 3, follow: true }, { name: 'changes' },
    { name: 'log', buildPath: 'builders/1/builds/2', step: '3', slug: 'stdio', line: 10 },
    { name: 'login', redirect: '/builders/1?x=1' },
  ]
  for (const r of routes) assert.equal(parseRoute(routeHref(r)), r)
})

test.run()
