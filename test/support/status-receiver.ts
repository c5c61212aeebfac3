import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One status as a receiver got it, with the answer it gave. */
export interface ReceivedStatus { body: Record<string, unknown>; answered: number | 'hung' }

/** What the receiver answers to the n-th request (0-based): a status and headers, or `'hang'` (no answer until closed). */
export type ReceiverPlan = (n: number, body: Record<string, unknown>) => { status: number; headers?: Record<string, string> } | 'hang'

/**
 * A loopback HTTP server standing in for a forge's status API: it records every JSON body
 * POSTed to it and answers as `plan` says. `delivered` are the bodies it answered with 2xx.
 */
export async function startStatusReceiver(plan: ReceiverPlan = () => ({ status: 201 })) {
  const received: ReceivedStatus[] = []
  const hung = new Set<ServerResponse>()
  let current = plan
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = ''
    req.setEncoding('utf8').on('data', (d: string) => { text += d }).on('end', () => {
      let body: Record<string, unknown>
      try { body = JSON.parse(text) as Record<string, unknown> } catch { res.writeHead(400).end('not JSON'); return }
      const answer = current(received.length, body)
      if (answer === 'hang') { received.push({ body, answered: 'hung' }); hung.add(res); return }
      received.push({ body, answered: answer.status })
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end('{}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/statuses`
  return {
    url,
    received,
    get delivered(): Record<string, unknown>[] { return received.filter((r) => typeof r.answered === 'number' && r.answered < 300).map((r) => r.body) },
    /** Answers from now on as `next` says. */
    setPlan(next: ReceiverPlan): void { current = next },
    async close(): Promise<void> {
      for (const r of hung) r.destroy()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

export type StatusReceiver = Awaited<ReturnType<typeof startStatusReceiver>>
