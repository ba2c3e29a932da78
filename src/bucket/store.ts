/** One object of a listing. */
export interface StoredObject {
  /** Full key, including the prefix. */
  key: string
  size: number
  /** ETag without quotes. For single-part uploads this is the hex MD5 of the bytes. */
  etag: string
  lastModified: Date
}

/** What `ObjectStore.list` may use to list faster. */
export interface ListHints {
  /** Keys (prefix included) to cut the listing at: each range ends at one of them. */
  splitAfter?: readonly string[]
}

/** What to write. */
export interface PutRequest {
  key: string
  /** The bytes, or a path to stream them from. */
  body: Uint8Array | { path: string }
  /** Exact byte length of `body`. */
  contentLength: number
  contentType: string
  cacheControl: string
  contentEncoding?: string
  /** Hex MD5 of the body, sent as Content-MD5 (base64) so the store verifies it. */
  md5?: string
  /**
   * Only write when no object exists under this key (If-None-Match: *). A store that honours it
   * answers 412, thrown as `PUBLISH_CONFLICT`; some S3-compatible stores ignore it.
   */
  ifNoneMatch?: boolean
  /** Only write when the stored object has this ETag (If-Match); otherwise as `ifNoneMatch`. */
  ifMatch?: string
  /** Extra headers (`x-amz-meta-*` go to metadata). */
  metadata?: Record<string, string>
}

export interface ObjectHead {
  size: number
  etag: string
  contentType?: string
  cacheControl?: string
  contentEncoding?: string
  lastModified: Date
}

/**
 * S3's key order, UTF-8 bytes (which is code point order), without encoding the keys: UTF-16
 * code units compare the same way except that surrogates (U+10000 and above) must sort after
 * U+E000–U+FFFF, which the shift below arranges.
 */
export function byteOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codePointRank(x) - codePointRank(y)
  }
  return a.length - b.length
}

const codePointRank = (unit: number) => (unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit)

/** Keys per DeleteObjects request: the S3 limit. */
export const MAX_DELETE_BATCH = 1000

export interface DeleteResult {
  deleted: string[]
  errors: { key: string; code: string; message: string }[]
}

/**
 * The only door to the network. One real implementation over `@aws-sdk/client-s3`
 * (`s3.ts`); everything else in the plugin is pure and talks to this interface.
 */
export interface ObjectStore {
  /**
   * Every object under `prefix` (paged internally, in S3 byte order where the store provides it).
   * `splitAfter`: keys expected under the prefix, which let a long listing be fetched as ranges
   * at once (the result is the same).
   */
  list(prefix: string, hints?: ListHints): Promise<StoredObject[]>
  /** Metadata of one object, or `undefined` when it does not exist. */
  head(key: string): Promise<ObjectHead | undefined>
  put(request: PutRequest): Promise<void>
  /** Delete keys in batches of at most `MAX_DELETE_BATCH`; per-key failures are reported, not thrown. */
  deleteMany(keys: string[]): Promise<DeleteResult>
  /** Parse a JSON object, or `undefined` when it does not exist. */
  getJson<T = unknown>(key: string): Promise<T | undefined>
  /** Read an object's bytes, or `undefined` when it does not exist. */
  getBytes(key: string): Promise<Uint8Array | undefined>
  /** Read an object's bytes and its ETag (unquoted), or `undefined` when it does not exist. */
  getObject(key: string): Promise<{ bytes: Uint8Array; etag: string } | undefined>
  /** A printable description (bucket and endpoint; never credentials). */
  describe(): string
}
