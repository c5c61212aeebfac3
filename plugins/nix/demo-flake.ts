import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'

// `salt` makes a new demo repository's outputs new to the store, so its first evaluation builds.
const flake = (salt: string) => `{
  description = "buildbot-nix demo";
  outputs = { self }: let
    sys = "x86_64-linux";
    mk = name: script: deps: derivation { inherit name deps; salt = "${salt}"; system = sys; builder = "/bin/sh"; args = [ "-c" script ]; };
    hello = mk "hello" "echo hello > $out" [ ];
    greeting = mk "greeting" "read -r line < \${hello}; echo \\"$line, world\\" > $out" [ hello ];
  in {
    checks.\${sys} = {
      inherit hello greeting;
      count = mk "count" "i=0; while [ $i -lt 5 ]; do echo step $i; i=$((i+1)); done; echo done > $out" [ ];
    };
  };
}
`

const LOCK = JSON.stringify({ nodes: { root: {} }, root: 'root', version: 7 }, null, 2) + '\n'

function git(cwd: string, args: string[]): Promise<void> {
  return new Promise((res, rej) => execFile('git', ['-c', 'user.email=demo@example.com', '-c', 'user.name=demo', ...args], { cwd }, (err) => (err ? rej(err) : res())))
}

/**
 * Creates a small flake repository at `dir` on first use (checks: `hello`, `greeting` depending
 * on it, `count`, all built with /bin/sh) and returns its absolute path.
 */
export async function ensureDemoFlake(dir: string): Promise<string> {
  const abs = resolve(dir)
  if (existsSync(join(abs, '.git'))) return abs
  await mkdir(abs, { recursive: true })
  await writeFile(join(abs, 'flake.nix'), flake(new Date().toISOString()))
  await writeFile(join(abs, 'flake.lock'), LOCK)
  await git(abs, ['init', '-q', '-b', 'main'])
  await git(abs, ['add', '-A'])
  await git(abs, ['commit', '-q', '-m', 'demo flake'])
  return abs
}
