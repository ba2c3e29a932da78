import type { PrecompressEncoding } from '../options/types.js'

/** Folder (under the prefix) of everything this plugin stores besides the site's files. */
export const META_DIR = '.cdn-publish/'

/** Folder (under the prefix) of the release records. */
export const RECORDS_DIR = '.cdn-publish/releases/'

/** Folder (under the prefix) of the copies of mutable files that a rollback restores. */
export const SNAPSHOTS_DIR = '.cdn-publish/snapshots/'

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
 * A copy of one mutable file (or the stable manifest) of a release, stored content-addressed
 * under `<prefix>.cdn-publish/snapshots/`. Mutable keys such as `index.html` are overwritten by
 * every publish; the snapshot is what lets `rollback` put the release's own bytes back.
 */
export interface Snapshot {
  /** Key of the copy, relative to the prefix. */
  key: string
  /** Headers to restore the file with. */
  contentType: string
  cacheControl: string
  contentEncoding?: string
  /** Other stored headers (`content-disposition`, `x-amz-meta-*`, …). */
  extra?: Record<string, string>
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
  /** Path (relative to the prefix) → snapshot, for every mutable file and the stable manifest. */
  snapshots?: Record<string, Snapshot>
}

export function recordKey(prefix: string, release: string): string {
  return `${prefix}${RECORDS_DIR}${release}.json`
}

/**
 * Key (relative to the prefix) of the snapshot of bytes with this integrity, stored with this
 * encoding: content-addressed, so releases that share a file's bytes share its snapshot.
 */
export function snapshotKey(integrity: string, encoding?: string): string {
  const hex = Buffer.from(integrity.replace(/^sha384-/, ''), 'base64').toString('hex')
  return `${SNAPSHOTS_DIR}${hex}${encoding ? `.${encoding}` : ''}`
}

/** Every path (relative to the prefix) a release needs: its files and its snapshots. */
export function releasePaths(record: ReleaseRecord): string[] {
  const paths = Object.keys(record.files)
  for (const s of Object.values(record.snapshots ?? {})) paths.push(s.key)
  return paths
}

/** Every key (full, prefix included) a release needs: its files and its snapshots. */
export function releaseKeys(record: ReleaseRecord, prefix: string): string[] {
  return releasePaths(record).map((p) => prefix + p)
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
  if (r.snapshots !== undefined) {
    if (!r.snapshots || typeof r.snapshots !== 'object') return undefined
    for (const s of Object.values(r.snapshots)) {
      if (!s || typeof s !== 'object' || typeof s.key !== 'string' || !s.key.startsWith(SNAPSHOTS_DIR)) return undefined
      if (typeof s.contentType !== 'string' || typeof s.cacheControl !== 'string') return undefined
    }
  }
  return r as ReleaseRecord
}
