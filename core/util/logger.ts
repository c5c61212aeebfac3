import { pino, type Logger as PinoLogger } from 'pino'

export type Logger = PinoLogger

export interface LoggerOptions {
  level?: string
  /** Extra strings (resolved secrets) to redact from every log line. */
  secrets?: () => Iterable<string>
  destination?: NodeJS.WritableStream | { write(s: string): void }
}

/**
 * One JSON line per event. Known secret-bearing keys are redacted by path, and resolved secret
 * values are replaced wherever they appear in a line.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const secrets = opts.secrets
  const dest = opts.destination ?? process.stdout
  const stream = secrets
    ? {
        write(line: string) {
          let out = line
          for (const s of secrets()) if (s.length >= 4 && out.includes(s)) out = out.split(s).join('[redacted]')
          dest.write(out)
        },
      }
    : dest
  return pino(
    {
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      base: undefined,
      redact: { paths: ['password', '*.password', 'token', '*.token', 'secret', '*.secret', 'headers.authorization', 'req.headers.authorization'], censor: '[redacted]' },
    },
    stream as NodeJS.WritableStream,
  )
}
