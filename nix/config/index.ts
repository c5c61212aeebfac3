export { masterFromNixosOptions, masterConfigOf, databaseUrl } from './master-from-nixos.ts'
export type { NixosEnvironment } from './master-from-nixos.ts'
export { nixosOptionsSchema, moduleOnlyOptions } from './nixos-options.ts'
export type { NixosOptions } from './nixos-options.ts'
