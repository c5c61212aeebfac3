import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseLogChunk } from './log-lines.ts'

test('stdio lines keep their stream apart from their text', () => {
  const lines = parseLogChunk('hsh -c make\noout\neerr\n', 's')
  assert.equal(lines, [{ stream: 'h', text: 'sh -c make' }, { stream: 'o', text: 'out' }, { stream: 'e', text: 'err' }])
})

test('text logs are split as they are', () => {
  assert.equal(parseLogChunk('a\nb\n', 't').map((l) => l.text), ['a', 'b'])
  assert.equal(parseLogChunk('', 's'), [])
})

test.run()
