import { prop } from './format.ts'

/**
 * How a build is named everywhere in the UI: `<builder or attribute> #<number>`, the number
 * being the build's number on its builder (as Buildbot's UI), never its id.
 */
export function buildLabel(build: { number?: unknown; buildid?: unknown; properties?: unknown } | undefined, builderName?: string): string {
  if (!build) return ''
  const name = prop(build.properties, 'virtual_builder_name') ?? builderName
  return `${name ?? 'build'} #${build.number ?? '?'}`
}
