import { createHash } from 'node:crypto'

/** SHA-256 of the bytes as base64url, cut to `length` characters: the content hash in file names. */
export function contentHash(bytes: Uint8Array | string, length = 8): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, length)
}

/** Subresource-integrity digest (`sha384-<base64>`). */
export function integrity(bytes: Uint8Array | string): string {
  return `sha384-${createHash('sha384').update(bytes).digest('base64')}`
}

/** Hex SHA-256 of a string, cut to `length` characters. */
export function hexHash(text: string, length = 16): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length)
}

/** Hex MD5 of the bytes: the ETag S3 gives a single-part upload. */
export function md5Hex(bytes: Uint8Array | string): string {
  return createHash('md5').update(bytes).digest('hex')
}
