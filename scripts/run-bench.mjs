#!/usr/bin/env node
// Runs every `bench/*.bench.ts` (or those given as arguments) in turn with `node --import tsx`,
// passing their JSON lines through on stdout; other output goes to stderr. Exits 1 if any failed.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const args = process.argv.slice(2)
const files = args.length ? args.map((a) => join(process.cwd(), a)) : readdirSync(join(root, 'bench')).filter((n) => n.endsWith('.bench.ts')).sort().map((n) => join(root, 'bench', n))
const failed = []

for (const file of files) {
  const rel = relative(root, file)
  process.stderr.write(`# ${rel}\n`)
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    let buf = ''
    child.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d
      const lines = buf.split('\n')
      buf = lines.pop()
      for (const l of lines) (l.includes('"bench"') ? process.stdout : process.stderr).write(l + '\n')
    })
    child.on('close', (c) => { if (buf) (buf.includes('"bench"') ? process.stdout : process.stderr).write(buf + '\n'); resolve(c) })
  })
  if (code !== 0) { failed.push(rel); process.stderr.write(`# ${rel} failed (exit ${code})\n`) }
}
if (failed.length) process.stderr.write(`failed: ${failed.join(', ')}\n`)
process.exit(failed.length ? 1 : 0)
