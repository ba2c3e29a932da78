import type { PrecompressEncoding } from './options.js'

/** Folder (under the prefix) of the release records. */
export const RECORDS_DIR = '.cdn-publish/releases/'

export type ReleaseState = 'pending' | 'current' | 'replaced'

/** One published file of a release, as its record lists it. */
export interface ReleaseFile {
  /** Subresource-integrity digest of the file's bytes (`sha384-…`), as in the manifest. */
  integrity: string
  /** Size of the file's bytes. */
  size: number
  /** True when the name carries a content hash. */
  immutable: boolean
  /** `Content-Encoding` the object is stored with, when precompressed. */
  encoding?: PrecompressEncoding
  /** Hex MD5 of the stored bytes (after encoding): the object's ETag. Known once uploaded or compared. */
  md5?: string
  /** Size of the stored bytes when it differs from `size` (precompressed). */
  storedSize?: number
  /** Short hash of the headers the object was stored with. */
  headers?: string
}

/**
 * `<prefix>.cdn-publish/releases/<release>.json`: what a release consists of and where it is in
 * its life. Written `pending` before any of its files, marked `current` when the stable manifest
 * names it, and `replaced` (with `replacedAt`) when a later release becomes current. Retention
 * decides from these records which files are still referenced.
 */
export interface ReleaseRecord {
  version: 1
  release: string
  label?: string
  state: ReleaseState
  createdAt: string
  publishedAt?: string
  replacedAt?: string
  /** The release that was current when this one was published (marked `replaced` by it). */
  previous?: string
  /** Key of the stable manifest, relative to the prefix. */
  manifest: string
  /** Every published path (relative to the prefix) of the release. */
  files: Record<string, ReleaseFile>
}

export function recordKey(prefix: string, release: string): string {
  return `${prefix}${RECORDS_DIR}${release}.json`
}

const STATES = new Set<string>(['pending', 'current', 'replaced'])

/** The record, when `value` has the shape of one; `undefined` otherwise (a foreign or damaged object). */
export function parseRecord(value: unknown): ReleaseRecord | undefined {
  if (!value || typeof value !== 'object') return undefined
  const r = value as Partial<ReleaseRecord>
  if (r.version !== 1 || typeof r.release !== 'string' || !STATES.has(r.state as string)) return undefined
  if (typeof r.createdAt !== 'string' || typeof r.manifest !== 'string') return undefined
  if (!r.files || typeof r.files !== 'object') return undefined
  for (const f of Object.values(r.files)) {
    if (!f || typeof f !== 'object' || typeof f.integrity !== 'string' || typeof f.size !== 'number') return undefined
  }
  return r as ReleaseRecord
}
