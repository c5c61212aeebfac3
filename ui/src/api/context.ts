import { createContext } from '@lit/context'
import type { ApiClient } from './api-client.ts'
import type { FrontendConfig } from './frontend-config.ts'

export const apiContext = createContext<ApiClient>(Symbol('bb-api-client'))
export const configContext = createContext<FrontendConfig>(Symbol('bb-frontend-config'))
