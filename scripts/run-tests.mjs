#!/usr/bin/env node
// Runs every `*.test.ts` file (or those given as arguments) in its own node process under tsx,
// two at a time, and prints a closing line `N passed, N failed`.
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const skipDirs = new Set(['node_modules', '.git', 'state', 'dist', 'test-output'])
const timeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 600_000)
const concurrency = Number(process.env.TEST_CONCURRENCY ?? 2)

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (skipDirs.has(name)) continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) find(p, out)
    else if (name.endsWith('.test.ts')) out.push(p)
  }
  return out
}

const args = process.argv.slice(2)
const files = (args.length ? args.map((a) => join(process.cwd(), a)) : find(root)).sort()
let passed = 0, failed = 0, skipped = 0
const failures = []

function runFile(file) {
  return new Promise((resolve) => {
    const rel = relative(root, file)
    const started = Date.now()
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    const timer = setTimeout(() => { out += `\n(timed out after ${timeoutMs} ms)\n`; child.kill('SIGKILL') }, timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0)
      const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0)
      const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0)
      let bad = Math.max(0, total - ok - skip)
      if (code !== 0 && bad === 0) bad = 1
      passed += ok; failed += bad; skipped += skip
      const secs = ((Date.now() - started) / 1000).toFixed(1)
      console.log(`${bad ? 'FAIL' : 'ok  '} ${rel}  (${ok} passed, ${bad} failed, ${skip} skipped, ${secs}s)`)
      if (bad || process.env.TEST_VERBOSE) { failures.push(rel); console.log(out.split('\n').map((l) => '    ' + l).join('\n')) }
      resolve()
    })
  })
}

const queue = [...files]
await Promise.all(Array.from({ length: concurrency }, async () => { while (queue.length) await runFile(queue.shift()) }))
if (failures.length) console.log(`failed files: ${failures.join(', ')}`)
if (skipped) console.log(`${skipped} skipped`)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
