#!/usr/bin/env node
// The master's command line: `buildbot-nix start|checkconfig|reconfig|config-schema|hash-password`.
import { launch } from './launch.mjs'
await launch('core/index.ts')
