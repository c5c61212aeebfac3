import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..')

/**
 * Promises started with `void` whose rejection nothing handles crash the master (node exits on
 * an unhandled rejection). Each such site must end in `.catch(...)`, or call something that is
 * written never to reject; those are listed here with the reason.
 */
const NEVER_REJECT: Record<string, string> = {
  'flush()': 'log-writer: its chain ends in .catch, which records the failure for finish()',
  'this.drain()': 'distributor: catches each batch and rejects the callers instead',
  'this.loop()': 'distributor: catches everything and retries',
  'run.finally(': 'distributor: the build runner catches its own errors',
  'p.finally(': 'build-batcher: p already ends in .catch',
  'serial(': 'matrix-run: the chain ends in .catch(fatal)',
  'other.supersede(': 'matrix-run: cancel goes through serial, which never rejects',
  'conn.closed.then(() =>': 'closed never rejects; the handler is synchronous',
  'pending.then(': 'build: handles the rejection in its second argument',
  'buildUiBundle(uiDir).then(': 'cli: handles the rejection in its second argument',
  'loop.trigger()': 'forge discovery loop: trigger catches (the run logs and keeps the known projects)',
  'run?.loop.trigger()': 'github: the discovery loop\'s trigger catches',
  'ensureHooks(': 'github: catches and logs each repository\'s webhook failure',
  'refresh()': 'ws-route: refresh is hiddenFor(...).then(set, log): it handles its rejection',
}

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) { if (name !== 'node_modules') yield* sources(p); continue }
    if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !/test-(harness|worker)\.ts$/.test(name)) yield p
  }
}

test('every promise started with `void` in core/ and plugins/ handles its rejection', () => {
  const offenders: string[] = []
  let sites = 0
  for (const dir of ['core', 'plugins']) {
    for (const file of sources(join(root, dir))) {
      const lines = readFileSync(file, 'utf8').split('\n')
      lines.forEach((line, i) => {
        for (const m of line.matchAll(/(?<![\w.])void\s+(?![>|,;)\]}]|$)(.+)/g)) {
          const expr = m[1]!
          if (/^(0|undefined)\b/.test(expr) || /^[\w.]+\s*$/.test(expr)) continue // not a promise
          if (line.slice(0, m.index).match(/[:<|]\s*$|=>\s*$/) && !/\(/.test(expr.split(/\s/)[0]!)) continue // a type
          sites++
          // The statement may go on over lines that start with `.`.
          let stmt = expr
          for (let j = i + 1; j < lines.length && /^\s*\./.test(lines[j]!); j++) stmt += lines[j]!.trim()
          if (stmt.includes('.catch(')) continue
          if (Object.keys(NEVER_REJECT).some((k) => expr.startsWith(k) || expr.includes(` ${k}`) || expr.includes(`(${k}`))) continue
          offenders.push(`${relative(root, file)}:${i + 1}: void ${expr.trim()}`)
        }
      })
    }
  }
  assert.ok(sites > 5, `found ${sites} sites; the scan must see the code`)
  assert.equal(offenders, [], `unhandled rejections possible at:\n${offenders.join('\n')}`)
})

test.run()
