/**
 * The store the publish options describe: `@aws-sdk/client-s3` against AWS S3 or the configured
 * endpoint. The SDK is loaded here, on the first publish, prune, rollback or status, and never by
 * importing the plugin: a `vite.config` load, a dev server or a build without a bucket do not pay
 * for it.
 */
import type { ObjectStore } from './store.js'

/** What opening a store needs of the resolved publish options. */
export interface StoreTarget {
  bucket: string
  region?: string | undefined
  endpoint?: string | undefined
  forcePathStyle: boolean
  checksums: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED'
}

export async function openStore(o: StoreTarget): Promise<ObjectStore> {
  const { createS3Store } = await import('./s3.js')
  return createS3Store({
    bucket: o.bucket,
    ...(o.region !== undefined ? { region: o.region } : {}),
    ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
    forcePathStyle: o.forcePathStyle,
    checksums: o.checksums,
  })
}
