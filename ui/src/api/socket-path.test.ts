import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { keyMatches, socketPath } from './socket-path.ts'

test('collections listen to two more segments, entities to one', () => {
  assert.is(socketPath('builds'), 'builds/*/*')
  assert.is(socketPath('builders/3/builds?order=-number'), 'builders/3/builds/*/*')
  assert.is(socketPath('builds/7'), 'builds/7/*')
  assert.is(socketPath('builds/7/properties'), 'builds/7/properties/*')
  assert.is(socketPath('/builds/7/nixjobs'), 'builds/7/nixjobs/*/*')
})

test('a wildcard matches exactly one segment', () => {
  assert.ok(keyMatches('builds/*/*', 'builds/7/update'))
  assert.not.ok(keyMatches('builds/*/*', 'builds/7/steps/1/new'))
  assert.ok(keyMatches('logs/12/*', 'logs/12/append'))
  assert.not.ok(keyMatches('logs/12/*', 'logs/13/append'))
})

test.run()
