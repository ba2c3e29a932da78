/** Digests the tests compare bytes by. */
import { createHash } from 'node:crypto'

const hex = (algorithm: string) => (bytes: Uint8Array | string) => createHash(algorithm).update(bytes).digest('hex')

export const sha256hex = hex('sha256')
export const sha384hex = hex('sha384')
/** Hex MD5: the ETag S3 gives an object stored in one part. */
export const md5hex = hex('md5')

/** Subresource-integrity digest (`sha384-<base64>`), as the manifest and the release records write it. */
export const sri = (bytes: Uint8Array | string) => `sha384-${createHash('sha384').update(bytes).digest('base64')}`

/** The content hash this plugin writes into a fingerprinted name (hash length 8). */
export const hash8 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('base64url').slice(0, 8)
