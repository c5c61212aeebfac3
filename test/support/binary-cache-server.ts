import { createServer, type Server } from 'node:http'
import { createReadStream, statSync } from 'node:fs'
import { join, normalize } from 'node:path'
import type { AddressInfo } from 'node:net'

/** A file binary cache (`nix copy --to file://<dir>`) served over HTTP on loopback, read-only. */
export interface BinaryCacheServer { url: string; requests: number; close(): Promise<void> }

export async function serveBinaryCache(dir: string): Promise<BinaryCacheServer> {
  const state = { requests: 0 }
  const server: Server = createServer((req, res) => {
    state.requests++
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^\/+/, '')
    if ((req.method !== 'GET' && req.method !== 'HEAD') || path.startsWith('..')) { res.writeHead(405).end(); return }
    const file = join(dir, path)
    let size: number
    try {
      const st = statSync(file)
      if (!st.isFile()) throw new Error('not a file')
      size = st.size
    } catch { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found'); return }
    const type = path.endsWith('.narinfo') ? 'text/x-nix-narinfo' : path === 'nix-cache-info' ? 'text/x-nix-cache-info' : 'application/octet-stream'
    res.writeHead(200, { 'content-type': type, 'content-length': size })
    if (req.method === 'HEAD') res.end()
    else createReadStream(file).pipe(res)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() { return state.requests },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}
