import { hash } from 'node:crypto'

// One-shot `hash()`: no Hash object per file, which is most of the cost for small files.

/** SHA-256 of the bytes as base64url, cut to `length` characters: the content hash in file names. */
export function contentHash(bytes: Uint8Array | string, length = 8): string {
  return hash('sha256', bytes, 'base64url').slice(0, length)
}

/** Subresource-integrity digest (`sha384-<base64>`). */
export function integrity(bytes: Uint8Array | string): string {
  return `sha384-${hash('sha384', bytes, 'base64')}`
}

/** Hex SHA-256 of a string, cut to `length` characters. */
export function hexHash(text: string, length = 16): string {
  return hash('sha256', text, 'hex').slice(0, length)
}

/** Hex MD5 of the bytes: the ETag S3 gives a single-part upload. */
export function md5Hex(bytes: Uint8Array | string): string {
  return hash('md5', bytes, 'hex')
}
