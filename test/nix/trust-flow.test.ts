import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../support/tools.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { example } from '../fixtures/example-plugin/index.ts'
import { localWorker, secret, secretsFromObject, SUCCESS, type MasterConfig } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'nix-trust-'))
const HOOK_SECRET = 'base-hook-secret-0c1d'
const FORGE_SECRET = 'forge-webhook-secret-77aa'

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' }).trim()

// Needs both sides of the merge; the head's text is part of the derivation, so each head builds anew.
const MERGED = 'mk { name = "merged"; system = "x86_64-linux"; outputs = [ "out" ]; deps = [ ]; script = if builtins.pathExists ./base.txt && builtins.pathExists ./head.txt then "echo ${builtins.replaceStrings [ "\\n" ] [ "" ] (builtins.readFile ./head.txt)} > $out" else "echo a side is missing; exit 1"; }'

/** A repo whose `main` (base) and two head commits on `feature` each add a file; the check needs both. */
function prRepo(dir: string): { base: string; head: string; head2: string } {
  makeFlakeRepo(dir, { checks: { merged: { expr: MERGED } } })
  git(dir, 'checkout', '-q', '-b', 'feature')
  writeFileSync(join(dir, 'head.txt'), 'head\n'); git(dir, 'add', 'head.txt'); git(dir, 'commit', '-q', '-m', 'head')
  const head = git(dir, 'rev-parse', 'HEAD')
  writeFileSync(join(dir, 'head.txt'), 'head2\n'); git(dir, 'add', 'head.txt'); git(dir, 'commit', '-q', '-m', 'head 2')
  const head2 = git(dir, 'rev-parse', 'HEAD')
  git(dir, 'checkout', '-q', 'main')
  writeFileSync(join(dir, 'base.txt'), 'base\n'); git(dir, 'add', 'base.txt'); git(dir, 'commit', '-q', '-m', 'base')
  return { base: git(dir, 'rev-parse', 'HEAD'), head, head2 }
}

function config(repo: string): MasterConfig {
  return {
    workers: [localWorker({ name: 'local', maxBuilds: 8 })],
    secretsProviders: [secretsFromObject({ 'change-hook': HOOK_SECRET })],
    www: { changeHooks: { base: { secret: secret('change-hook') } } },
    plugins: [
      nix({ projects: [{ name: 'acme/trust', url: repo }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1 }),
      example({ trust: { webhookSecret: FORGE_SECRET, members: ['alice'] } }),
    ],
  }
}

interface Finished { buildid: number; builderid: number; buildrequestid: number; results: number }

/** Sends a request that adds a pull-request change, and waits for the evaluation it causes. */
async function evaluated(h: MasterHarness, send: () => Promise<Response>): Promise<Finished & { trusted: boolean; bsid: number }> {
  const evalBuilder = h.builderId('acme/trust/nix-eval')
  const done = h.waitFor<Finished>('builds/*/finished', (m) => m.builderid === evalBuilder, 120_000)
  const r = await send()
  assert.is(r.status, 200, await r.text())
  const b = await done
  const br = (await h.master.data.buildrequests.load([b.buildrequestid]))[0]!
  const bs = (await h.master.data.buildsets.getBuildset(br.buildsetid))!
  return { ...b, trusted: bs.trusted, bsid: bs.bsid }
}

async function childTrust(h: MasterHarness, buildid: number): Promise<boolean[]> {
  const rows = await h.master.data.db.k.selectFrom('buildsets').select('bsid').where('parent_buildid', '=', buildid).execute()
  return Promise.all(rows.map(async (r) => (await h.master.data.buildsets.getBuildset(r.bsid))!.trusted))
}

async function gotRevision(h: MasterHarness, buildid: number): Promise<unknown> {
  const props = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/builds/${buildid}/properties`)).json() as { properties: Record<string, [unknown, string]>[] }
  return props.properties[0]!.got_revision?.[0]
}

eachDb(maybe, 'pull requests from the base hook and from a forge plugin: merged and evaluated, trusted only when the forge vouches', async (start, db) => {
  const repo = join(tmp, `repo-${db.name}`)
  const { base, head, head2 } = prRepo(repo)
  const h = await start(config(repo))
  const url = (dialect: string) => `http://127.0.0.1:${h.master.ports.www}/change_hook/${dialect}`

  // A script injects a pull request through Buildbot's base hook: nobody vouched for it.
  const viaHook = await evaluated(h, () => fetch(url('base'), {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${HOOK_SECRET}` },
    body: JSON.stringify({ author: 'script', branch: 'refs/pull/1/merge', repository: repo, project: 'acme/trust', category: 'pull', properties: { base_sha: base, head_sha: head, event: 'pull_request' } }),
  }))
  assert.is(viaHook.results, SUCCESS, 'the head merged with the base evaluates and builds')
  assert.is(await gotRevision(h, viaHook.buildid), head)
  assert.is(viaHook.trusted, false)
  const children = await childTrust(h, viaHook.buildid)
  assert.ok(children.length > 0, 'the evaluation triggered its builds')
  assert.ok(children.every((t) => t === false), 'triggered builds inherit the untrusted parent')

  const forge = (sender: string, n: number, headSha: string) => () => {
    const body = JSON.stringify({ action: 'opened', number: n, sender, repository: repo, project: 'acme/trust', base: { ref: 'main', sha: base }, head: { ref: 'feature', sha: headSha } })
    return fetch(url('example'), { method: 'POST', headers: { 'content-type': 'application/json', 'x-example-signature': `sha256=${createHmac('sha256', FORGE_SECRET).update(body).digest('hex')}` }, body })
  }
  const member = await evaluated(h, forge('alice', 2, head2))
  assert.is(member.results, SUCCESS)
  assert.is(member.trusted, true, "a member's pull request is vouched for by the forge plugin")
  const memberChildren = await childTrust(h, member.buildid)
  assert.ok(memberChildren.length > 0 && memberChildren.every((t) => t === true), 'triggered builds inherit the trusted parent')
  const outsider = await evaluated(h, forge('mallory', 3, head))
  assert.is(outsider.trusted, false)
  assert.is(await gotRevision(h, outsider.buildid), head)
}, testDatabases())

test.run()
