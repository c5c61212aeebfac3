import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'

/** One operation of GitHub's REST description. */
export interface Operation {
  method: string
  template: string
  operationId: string
  params: { name: string; in: string; required?: boolean; schema?: Record<string, unknown> }[]
  match: RegExp
  names: string[]
  raw: Record<string, any>
}

type Spec = { paths: Record<string, Record<string, any>>; components: Record<string, Record<string, any>> }

/**
 * Makes every `#/components/...` reference point into the document added as `gh`, and turns
 * OpenAPI 3.0's `nullable` without a `type` (next to `allOf`/`anyOf`) into JSON Schema.
 */
const rebase = (v: unknown, refs = true): unknown => {
  if (Array.isArray(v)) return v.map((x) => rebase(x, refs))
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) out[k] = k === '$ref' && refs && typeof x === 'string' && x.startsWith('#/') ? `gh${x}` : rebase(x, refs)
    // OpenAPI 3.0: `nullable` also allows null where an `enum` does not list it.
    if (out.nullable === true && Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null]
    if (out.nullable === true && out.type === undefined) {
      delete out.nullable
      return { anyOf: [out, { type: 'null' }] }
    }
    return out
  }
  return v
}

/**
 * GitHub's published REST description (`@octokit/openapi`, api.github.com) as a checker: finds
 * the operation of a request, and validates path and query parameters, request bodies and
 * response bodies against its schemas with ajv (compiled lazily, per operation).
 */
export function createOpenApiValidator() {
  const require = createRequire(import.meta.url)
  const spec = JSON.parse(readFileSync(require.resolve('@octokit/openapi/generated/api.github.com.json'), 'utf8')) as Spec
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false })
  const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule
  ;(addFormats as unknown as (a: Ajv) => void)(ajv)
  ajv.addSchema({ components: rebase(spec.components, false) }, 'gh')
  const ops: Operation[] = []
  for (const [template, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue
      const names: string[] = []
      const re = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_m, n: string) => { names.push(n); return '([^/]+)' })
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Record<string, any>) => (p.$ref ? resolve(p.$ref) : p))
      ops.push({ method: method.toUpperCase(), template, operationId: op.operationId, params, match: new RegExp(`^${re}$`), names, raw: op })
    }
  }
  // Literal paths first (`/repos/{owner}/{repo}/installation` before a template that would also match).
  ops.sort((a, b) => a.names.length - b.names.length)
  const compiled = new Map<string, ValidateFunction>()
  function resolve(ref: string): any {
    return ref.replace(/^#\//, '').split('/').reduce((o: any, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], spec)
  }
  const validator = (key: string, schema: unknown): ValidateFunction => {
    let v = compiled.get(key)
    if (!v) { v = ajv.compile(rebase(schema) as object); compiled.set(key, v) }
    return v
  }
  const errorsOf = (v: ValidateFunction): string => ajv.errorsText(v.errors, { separator: '; ', dataVar: 'body' })

  return {
    spec,
    resolve,
    /** The operation and its path parameters, or undefined. */
    find(method: string, path: string): { op: Operation; path: Record<string, string> } | undefined {
      for (const op of ops) {
        if (op.method !== method) continue
        const m = op.match.exec(path)
        if (m) return { op, path: Object.fromEntries(op.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) }
      }
      return undefined
    },
    /** Problems with a request: unknown query parameters, parameters or a body that do not fit the schemas. */
    checkRequest(op: Operation, path: Record<string, string>, query: URLSearchParams, body: unknown, hasBody: boolean): string[] {
      const problems: string[] = []
      const coerce = (s: string, schema?: Record<string, unknown>): unknown => (schema?.type === 'integer' || schema?.type === 'number') && /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : schema?.type === 'boolean' && /^(true|false)$/.test(s) ? s === 'true' : s
      for (const p of op.params) {
        const value = p.in === 'path' ? path[p.name] : p.in === 'query' ? query.get(p.name) ?? undefined : undefined
        if (p.in === 'path' || p.in === 'query') {
          if (value === undefined) { if (p.required) problems.push(`missing ${p.in} parameter '${p.name}'`); continue }
          if (p.schema) {
            const v = validator(`${op.operationId}:${p.in}:${p.name}`, p.schema)
            if (!v(coerce(value, p.schema))) problems.push(`${p.in} parameter '${p.name}': ${errorsOf(v)}`)
          }
        }
      }
      for (const k of new Set(query.keys())) if (!op.params.some((p) => p.in === 'query' && p.name === k)) problems.push(`unknown query parameter '${k}'`)
      const rb = op.raw.requestBody as Record<string, any> | undefined
      const schema = rb?.content?.['application/json']?.schema
      if (schema && hasBody) {
        const v = validator(`${op.operationId}:body`, schema)
        if (!v(body)) problems.push(`request body: ${errorsOf(v)}`)
      } else if (rb?.required && !hasBody) problems.push('missing request body')
      else if (!rb && hasBody) problems.push('this operation takes no request body')
      return problems
    },
    /** Problems with a response we are about to send (the stand-in must answer as GitHub documents). */
    checkResponse(op: Operation, status: number, body: unknown): string[] {
      let r = op.raw.responses?.[String(status)] as Record<string, any> | undefined
      if (!r) return [`${op.operationId} documents no ${status} answer`]
      if (r.$ref) r = resolve(r.$ref)
      const schema = r?.content?.['application/json']?.schema ?? r?.content?.['application/scim+json']?.schema
      if (!schema) return body === undefined || body === null ? [] : [`${op.operationId} ${status} has no body`]
      const v = validator(`${op.operationId}:${status}`, schema)
      return v(body) ? [] : [`response ${status}: ${errorsOf(v)}`]
    },
    /** A documented example of an operation's answer (a `#/components/examples/...` value). */
    example(name: string): any {
      return structuredClone(spec.components.examples![name]!.value)
    },
  }
}

export type OpenApiValidator = ReturnType<typeof createOpenApiValidator>
