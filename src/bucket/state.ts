/**
 * What the bucket holds under a prefix, as pruning, rollback and `cdn-publish status` need it:
 * the listing, every release record and the release the stable manifest names.
 *
 * The listing is taken first and the records read afterwards. A publish writes its record before
 * any of its files, so every file in the listing belongs to a record read here (or to no record).
 */
import { pool } from '../util/pool.js'
import { parseRecord, RECORDS_DIR, type ReleaseRecord } from './record.js'
import type { ObjectStore, StoredObject } from './store.js'

export interface BucketState<R = ReleaseRecord> {
  prefix: string
  /** Every object under the prefix. */
  listing: StoredObject[]
  /** Release id → its record (or what the caller keeps of it), for every record that could be read. */
  records: Map<string, R>
  /** Record key → release id it describes. */
  recordKeys: Map<string, string>
  /** Keys of record objects that could not be read or do not describe the release their name says. */
  unreadable: string[]
  /** The release the stable manifest names (`undefined`: no manifest, or not one of this plugin's). */
  current: string | undefined
  /** Full key of the stable manifest. */
  manifestKey: string
}

const RECORD_NAME_RE = /^([^/]+)\.json$/

/** What the caller has already read and knows to be current (a publish that wrote nothing). */
export interface KnownState {
  listing: StoredObject[]
  /** Records among those the listing shows, as read. */
  records: ReleaseRecord[]
  current: string | undefined
}

/**
 * Reduces a record, as soon as it is read, to what the caller keeps of it: with thousands of large
 * records, holding only what a caller needs (a prune: the keys) bounds the memory of the read.
 */
export type RecordSummary<R> = (record: ReleaseRecord, key: string) => R

/**
 * Lists the prefix, then reads every release record it shows (`concurrency` at once) and the
 * stable manifest. Each record is kept whole, or as `summarise` reduces it.
 */
export function readBucketState(store: ObjectStore, prefix: string, manifest: string, concurrency?: number, known?: KnownState): Promise<BucketState>
export function readBucketState<R>(
  store: ObjectStore,
  prefix: string,
  manifest: string,
  concurrency: number | undefined,
  known: KnownState | undefined,
  summarise: RecordSummary<R>,
): Promise<BucketState<R>>
export async function readBucketState<R>(
  store: ObjectStore,
  prefix: string,
  manifest: string,
  concurrency = 8,
  known?: KnownState,
  summarise: RecordSummary<R | ReleaseRecord> = (record) => record,
): Promise<BucketState<R | ReleaseRecord>> {
  const listing = known?.listing ?? (await store.list(prefix))
  const read = new Map((known?.records ?? []).map((r) => [r.release, r]))
  const recordsDir = prefix + RECORDS_DIR
  const manifestKey = prefix + manifest
  const recordObjects = listing.filter((o) => o.key.startsWith(recordsDir) && RECORD_NAME_RE.test(o.key.slice(recordsDir.length)))
  const records = new Map<string, R | ReleaseRecord>()
  const recordKeys = new Map<string, string>()
  const unreadable: string[] = []
  const [current] = await Promise.all([
    known ? known.current : listing.some((o) => o.key === manifestKey) ? readPointer(store, manifestKey) : undefined,
    pool(recordObjects, concurrency, async (o) => {
      const id = RECORD_NAME_RE.exec(o.key.slice(recordsDir.length))![1]
      let record = read.get(id)
      if (!record) {
        const bytes = await store.getBytes(o.key)
        if (bytes === undefined) return // deleted since the listing (another prune): it names nothing now
        record = parseRecord(parseJson(bytes))
      }
      if (record?.release === id) {
        records.set(id, summarise(record, o.key))
        recordKeys.set(o.key, id)
      } else unreadable.push(o.key)
    }),
  ])
  return { prefix, listing, records, recordKeys, unreadable: unreadable.sort(), current, manifestKey }
}

/** The release record at `key`, or `undefined` when there is none or it cannot be read as one. */
export async function readRecord(store: ObjectStore, key: string): Promise<ReleaseRecord | undefined> {
  const bytes = await store.getBytes(key)
  return bytes === undefined ? undefined : parseRecord(parseJson(bytes))
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    // a view of the bytes, not a copy: records can be large
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch {
    return undefined
  }
}

/** The release a stable manifest names, or `undefined` when it is not one of this plugin's manifests. */
export function releaseOfManifest(bytes: Uint8Array | undefined): string | undefined {
  const m = bytes && (parseJson(bytes) as { version?: unknown; release?: unknown } | undefined)
  return m && m.version === 1 && typeof m.release === 'string' ? m.release : undefined
}

async function readPointer(store: ObjectStore, key: string): Promise<string | undefined> {
  return releaseOfManifest(await store.getBytes(key))
}
