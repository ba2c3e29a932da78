import type { S3ServerInfo } from './index.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The S3 servers started by test/global-setup.ts (see CDN_TEST_SERVERS). */
    s3servers: S3ServerInfo[]
  }
}
