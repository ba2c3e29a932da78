/**
 * The one `ObjectStore` over the network: `@aws-sdk/client-s3` against AWS S3 or any
 * S3-compatible store (R2, MinIO, Ceph radosgw, Spaces, B2, s3rver). This is the only module of
 * the plugin that imports `@aws-sdk/*`.
 *
 * Credentials come only from the SDK's default provider chain (environment, shared profile, SSO,
 * web identity, container/instance role). They are never options and never printed.
 */
import { createHash } from 'node:crypto'
import { createReadStream, type ReadStream } from 'node:fs'
import { createRequire } from 'node:module'
import type { PutObjectCommandInput } from '@aws-sdk/client-s3'
import { CdnPublishError, Codes } from '../errors.js'
import { pool } from '../util/pool.js'
import { errorName, isNotFound, scrub, toStoreError, type StoreOperation } from './s3-errors.js'
import { byteOrder, MAX_DELETE_BATCH, type DeleteResult, type ObjectHead, type ObjectStore, type PutRequest, type StoredObject } from './store.js'

// The SDK is CommonJS. Loaded through `require` its hundreds of internal modules skip the ES
// module loader's per-module work, which halves its load time: a CI step pays it on every run.
const { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } = createRequire(import.meta.url)(
  '@aws-sdk/client-s3',
) as typeof import('@aws-sdk/client-s3')

export interface S3StoreOptions {
  bucket: string
  /**
   * Region. Default: the SDK's (`AWS_REGION`, then the profile); with a custom `endpoint` and no
   * `AWS_REGION`, `us-east-1` (what S3-compatible stores expect in signatures).
   */
  region?: string
  /** Endpoint of an S3-compatible store, e.g. `http://127.0.0.1:9000`. Default: AWS (or `AWS_ENDPOINT_URL_S3`). */
  endpoint?: string
  /** Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`. */
  forcePathStyle?: boolean
  /** Attempts per request, the first included (throttling, 5xx and network errors are retried). @default 3 */
  maxAttempts?: number
  /**
   * A request attempt fails after this long without any bytes moving on its connection (then it
   * is retried while attempts remain). @default 15000
   */
  requestTimeoutMs?: number
  /** Connecting to the endpoint fails after this long. @default 5000 */
  connectTimeoutMs?: number
  /** Keys per ListObjectsV2 page. @default 1000 */
  listPageSize?: number
  /**
   * The SDK's `requestChecksumCalculation` / `responseChecksumValidation`. Streamed file bodies
   * need `'WHEN_REQUIRED'`. @default 'WHEN_REQUIRED'
   */
  checksums?: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED'
}

/** The store operation an error happened in; decides the IAM action named in messages. */
const REQUEST_TIMEOUT_MS = 15_000

/** Ranges of a split listing (`list`'s `splitAfter`) requested at once. */
const LIST_RANGES_AT_ONCE = 8

export function createS3Store(options: S3StoreOptions): ObjectStore {
  const { bucket } = options
  const endpointLabel =
    options.endpoint ??
    process.env.AWS_ENDPOINT_URL_S3 ??
    process.env.AWS_ENDPOINT_URL ??
    `AWS S3 (${options.region ?? process.env.AWS_REGION ?? 'default region'})`
  const listPageSize = options.listPageSize ?? 1000
  const maxAttempts = options.maxAttempts ?? 3

  const client = new S3Client({
    region:
      options.region ??
      (options.endpoint !== undefined && !process.env.AWS_REGION ? 'us-east-1' : undefined),
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    maxAttempts,
    // Checksums only where the API requires one: with the SDK's default ("WHEN_SUPPORTED") a
    // file-stream body goes out as `aws-chunked` with a trailing checksum, which radosgw answers
    // with 411 and s3rver stores framing and all.
    requestChecksumCalculation: options.checksums ?? 'WHEN_REQUIRED',
    responseChecksumValidation: options.checksums ?? 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: options.connectTimeoutMs ?? 5_000,
      socketTimeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    },
  })

  /** Secrets currently in use, to scrub from any message that might echo them. */
  const secrets = async (): Promise<string[]> => {
    try {
      const c = await client.config.credentials()
      return [c.secretAccessKey, c.sessionToken].filter((s): s is string => typeof s === 'string' && s.length >= 4)
    } catch {
      return []
    }
  }
  const fail = async (err: unknown, operation: StoreOperation, key?: string): Promise<never> => {
    const mapped = toStoreError(err, { operation, key, bucket, endpoint: endpointLabel })
    throw scrub(mapped, mapped.code === Codes.CREDENTIALS_MISSING ? [] : await secrets())
  }

  return {
    async list(prefix, hints) {
      /** The objects after `after` up to `upTo` (both keys, `undefined`: open), page by page. */
      const range = async (after: string | undefined, upTo: string | undefined): Promise<StoredObject[]> => {
        let out: StoredObject[] = []
        let token: string | undefined
        do {
          const command = new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            MaxKeys: listPageSize,
            ...(token ? { ContinuationToken: token } : after !== undefined ? { StartAfter: after } : {}),
          })
          let fast: ListPage | undefined
          command.middlewareStack.addRelativeTo(listPageMiddleware((p) => (fast = p)), {
            relation: 'after',
            toMiddleware: 'deserializerMiddleware',
            name: 'cdnPublishListPage',
          })
          const answer = await client.send(command)
          const page: ListPage = fast ?? {
            objects: (answer.Contents ?? []).flatMap((o) =>
              o.Key === undefined ? [] : [{ key: o.Key, size: o.Size ?? 0, etag: unquote(o.ETag), lastModified: o.LastModified ?? new Date(0) }],
            ),
            isTruncated: answer.IsTruncated === true,
            nextToken: answer.NextContinuationToken,
          }
          const last = page.objects.at(-1)
          // a page that reaches the range's last key ends the range
          const past = upTo !== undefined && last !== undefined && byteOrder(last.key, upTo) >= 0
          const objects = past ? page.objects.filter((o) => byteOrder(o.key, upTo!) <= 0) : page.objects
          out = out.length ? out.concat(objects) : objects
          token = page.isTruncated && !past ? page.nextToken : undefined
          if (page.isTruncated && !past && !token) {
            throw new CdnPublishError(
              Codes.PUBLISH_FAILED,
              `list of s3://${bucket}/${prefix} at ${endpointLabel}: the store said the listing is truncated but sent no continuation token`,
              { bucket, endpoint: endpointLabel, operation: 'list', key: prefix },
            )
          }
        } while (token)
        return out
      }
      const byKey = (a: StoredObject, b: StoredObject) => byteOrder(a.key, b.key)
      const inOrder = (list: StoredObject[]) => list.every((o, i) => i === 0 || byKey(list[i - 1]!, o) < 0)
      try {
        // Ranges between the expected keys, listed at once: a listing of tens of thousands of
        // keys is a long chain of pages otherwise. A store that does not list in byte order
        // cannot be cut into ranges; it is listed again in one chain.
        const bounds = [...new Set((hints?.splitAfter ?? []).filter((k) => k.startsWith(prefix)))].sort(byteOrder)
        if (bounds.length) {
          const parts: StoredObject[][] = []
          await pool(
            bounds.map((_, i) => i).concat(bounds.length),
            LIST_RANGES_AT_ONCE,
            async (i) => void (parts[i] = await range(bounds[i - 1], bounds[i])),
          )
          const out = parts.flat()
          if (inOrder(out)) return out
        }
        const out = await range(undefined, undefined)
        // S3 lists in UTF-8 byte order; some stores do not, and callers may rely on it
        return inOrder(out) ? out : out.sort(byKey)
      } catch (err) {
        return fail(err, 'list', prefix)
      }
    },

    async head(key) {
      try {
        const r = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
        const head: ObjectHead = {
          size: r.ContentLength ?? 0,
          etag: unquote(r.ETag),
          lastModified: r.LastModified ?? new Date(0),
        }
        if (r.ContentType !== undefined) head.contentType = r.ContentType
        if (r.CacheControl !== undefined) head.cacheControl = r.CacheControl
        if (r.ContentEncoding !== undefined) head.contentEncoding = r.ContentEncoding
        return head
      } catch (err) {
        // a HEAD answer has no body: a missing bucket is also a plain 404 here
        if (isNotFound(err)) return undefined
        return fail(err, 'head', key)
      }
    },

    async put(req: PutRequest) {
      const input: PutObjectCommandInput = {
        Bucket: bucket,
        Key: req.key,
        ContentLength: req.contentLength,
        ContentType: req.contentType,
        CacheControl: req.cacheControl,
      }
      if (req.contentEncoding !== undefined) input.ContentEncoding = req.contentEncoding
      if (req.md5 !== undefined) input.ContentMD5 = Buffer.from(req.md5, 'hex').toString('base64')
      if (req.ifNoneMatch) input.IfNoneMatch = '*'
      // unquoted: radosgw 16 compares the header literally and answers 412 to a quoted ETag;
      // AWS S3 and MinIO accept either form
      if (req.ifMatch !== undefined) input.IfMatch = req.ifMatch
      const rawHeaders: Record<string, string> = {}
      for (const [name, value] of Object.entries(req.metadata ?? {})) {
        const lower = name.toLowerCase()
        if (lower.startsWith('x-amz-meta-')) (input.Metadata ??= {})[name.slice('x-amz-meta-'.length)] = value
        else if (lower === 'content-disposition') input.ContentDisposition = value
        else if (lower === 'content-language') input.ContentLanguage = value
        else rawHeaders[lower] = value
      }

      const body = req.body
      const isFile = !(body instanceof Uint8Array)
      // A file is streamed. The SDK never retries a request whose body is a stream (it cannot
      // rewind it), so the stream is opened per attempt, after the retry step; until then the
      // body is an empty placeholder and Content-Length carries the real size.
      input.Body = isFile ? new Uint8Array(0) : body
      const command = new PutObjectCommand(input)
      let stream: ReadStream | undefined
      if (isFile) {
        command.middlewareStack.addRelativeTo(
          // runs once per attempt; edits a copy, so the retry step still sees a rewindable body
          requestMiddleware(
            (request) => {
              stream?.destroy()
              stream = createReadStream(body.path)
              request.body = stream
              request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD'
            },
            { copy: true },
          ),
          { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'cdnPublishFileBody' },
        )
      }
      if (Object.keys(rawHeaders).length > 0) {
        command.middlewareStack.add(
          requestMiddleware((request) => {
            Object.assign(request.headers, rawHeaders)
          }),
          { step: 'build', name: 'cdnPublishExtraHeaders' },
        )
      }
      try {
        await client.send(command)
      } catch (err) {
        return fail(err, 'put', req.key)
      } finally {
        stream?.destroy()
      }
    },

    async deleteMany(keys) {
      const result: DeleteResult = { deleted: [], errors: [] }
      const deleteError = async (err: unknown, key: string) => scrub(toStoreError(err, { operation: 'delete', key, bucket, endpoint: endpointLabel }), await secrets())
      const deleteOne = async (key: string): Promise<boolean> => {
        try {
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
          result.deleted.push(key)
          return true
        } catch (err) {
          const mapped = await deleteError(err, key)
          result.errors.push({ key, code: mapped.code, message: mapped.message })
          return false
        }
      }
      /** Plain DeleteObject requests, a few at a time; none after the first is refused. */
      const oneByOne = async (todo: string[]) => {
        if (!(await deleteOne(todo[0]!))) {
          for (const k of todo.slice(1)) result.errors.push({ key: k, code: 'NOT_ATTEMPTED', message: `not attempted: deleting ${todo[0]} was refused` })
          return
        }
        await pool(todo.slice(1), 8, async (k) => void (await deleteOne(k)))
      }
      // One key (the switch lease) is one DeleteObject, which a right on that key alone allows.
      if (keys.length === 1) {
        await oneByOne(keys)
        return result
      }
      for (let i = 0; i < keys.length; i += MAX_DELETE_BATCH) {
        const batch = keys.slice(i, i + MAX_DELETE_BATCH)
        const command = new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        })
        // Several S3-compatible stores (radosgw, MinIO) insist on Content-MD5 for DeleteObjects;
        // in "WHEN_REQUIRED" checksum mode the SDK sends only a CRC32 header, so add it here.
        command.middlewareStack.add(
          requestMiddleware((request) => {
            const b = request.body
            const has = Object.keys(request.headers).some((h) => h.toLowerCase() === 'content-md5')
            if (!has && (typeof b === 'string' || b instanceof Uint8Array)) {
              request.headers['content-md5'] = createHash('md5').update(b).digest('base64')
            }
          }),
          { step: 'build', name: 'cdnPublishDeleteContentMd5' },
        )
        try {
          const r = await client.send(command)
          const failed = new Set<string>()
          for (const e of r.Errors ?? []) {
            if (e.Key === undefined) continue
            failed.add(e.Key)
            result.errors.push({ key: e.Key, code: e.Code ?? 'UnknownError', message: e.Message ?? '' })
          }
          for (const k of batch) if (!failed.has(k)) result.deleted.push(k)
        } catch (err) {
          const mapped = await deleteError(err, batch[0]!)
          if (mapped.code === Codes.ACCESS_DENIED) {
            // refused as a whole: radosgw checks a DeleteObjects request against the bucket, so a
            // right on the prefix only (the README's IAM policy) allows each key's DeleteObject
            // and no batch; the rest goes one key at a time, each refused or done on its own
            await oneByOne(keys.slice(i))
            break
          }
          // The whole request failed: report this batch with the reason and stop; the keys of
          // later batches were not attempted.
          for (const k of batch) result.errors.push({ key: k, code: mapped.code, message: mapped.message })
          for (const k of keys.slice(i + MAX_DELETE_BATCH)) {
            result.errors.push({ key: k, code: 'NOT_ATTEMPTED', message: 'not attempted: an earlier delete batch failed' })
          }
          break
        }
      }
      return result
    },

    async getJson<T = unknown>(key: string): Promise<T | undefined> {
      const bytes = await this.getBytes(key)
      if (bytes === undefined) return undefined
      try {
        return JSON.parse(Buffer.from(bytes).toString('utf8')) as T
      } catch (err) {
        throw new CdnPublishError(
          Codes.PUBLISH_FAILED,
          `s3://${bucket}/${key} at ${endpointLabel} is not valid JSON: ${(err as Error).message}`,
          { bucket, endpoint: endpointLabel, operation: 'get', key },
        )
      }
    },

    async getBytes(key) {
      return (await this.getObject(key))?.bytes
    },

    async getObject(key) {
      // The SDK retries the request, but hands the body over as a stream after its retry step: a
      // connection lost while the body comes in is retried here, as many times.
      for (let attempt = 1; ; attempt++) {
        let r
        try {
          r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        } catch (err) {
          if (errorName(err) === 'NoSuchKey') return undefined
          return fail(err, 'get', key)
        }
        try {
          return { bytes: r.Body ? await r.Body.transformToByteArray() : new Uint8Array(0), etag: unquote(r.ETag) }
        } catch (err) {
          if (attempt >= maxAttempts) return fail(err, 'get', key)
        }
      }
    },

    describe() {
      return `s3://${bucket} (endpoint ${endpointLabel})`
    },
  }
}

/**
 * Turn an SDK or network error into a `CdnPublishError` with a stable code and a message that
 * names the operation, bucket, key and endpoint and says what to do. Never includes credentials.
 */
interface OutgoingRequest {
  body?: unknown
  headers: Record<string, string>
}

/**
 * An SDK middleware that edits the outgoing HTTP request (once it exists) and passes it on;
 * with `copy`, it edits and passes on a copy and leaves the request it was given as it was.
 */
function requestMiddleware(edit: (request: OutgoingRequest) => void, { copy = false } = {}) {
  return <A extends { request: unknown }, R>(next: (args: A) => Promise<R>) =>
    async (args: A): Promise<R> => {
      const request = args.request as Partial<OutgoingRequest> | undefined
      if (!request || typeof request !== 'object' || !request.headers) return next(args)
      if (!copy) {
        edit(request as OutgoingRequest)
        return next(args)
      }
      const clone = Object.assign(Object.create(Object.getPrototypeOf(request) as object) as object, request, {
        headers: { ...request.headers },
      }) as OutgoingRequest
      edit(clone)
      return next({ ...args, request: clone })
    }
}

/** One page of a listing. */
interface ListPage {
  objects: StoredObject[]
  isTruncated: boolean
  nextToken: string | undefined
}

/** What the SDK's deserializer is left to parse once a page has been read here. */
const EMPTY_LIST_RESULT = new TextEncoder().encode('<ListBucketResult></ListBucketResult>')

/**
 * A ListObjectsV2 answer read without the SDK's general XML parser and schema walk, which cost
 * most of an unchanged publish's CPU at tens of thousands of keys. Sits between the SDK's
 * deserializer and the HTTP handler (so once per attempt): a successful answer it can read is
 * handed to `onPage` and the deserializer gets an empty result; anything else (an error, a form
 * it does not know) goes on to the SDK untouched.
 */
function listPageMiddleware(onPage: (page: ListPage) => void) {
  return <A, R extends { response: unknown }>(next: (args: A) => Promise<R>) =>
    async (args: A): Promise<R> => {
      const result = await next(args)
      const response = result.response as { statusCode?: number; body?: unknown }
      if (response.statusCode !== 200 || !response.body || typeof (response.body as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') return result
      const chunks: Buffer[] = []
      for await (const chunk of response.body as AsyncIterable<Buffer | string>) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
      const bytes = Buffer.concat(chunks)
      const page = parseListPage(bytes.toString('utf8'))
      if (page) onPage(page)
      response.body = page ? EMPTY_LIST_RESULT : new Uint8Array(bytes)
      return result
    }
}

const XML_ENTITY_RE = /&(?:#x([0-9a-f]+)|#([0-9]+)|(amp|lt|gt|quot|apos));/gi
const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

function xmlText(s: string): string {
  return s.includes('&')
    ? s.replace(XML_ENTITY_RE, (_, hex: string | undefined, dec: string | undefined, name: string | undefined) =>
        name ? NAMED_ENTITIES[name.toLowerCase()]! : String.fromCodePoint(hex ? parseInt(hex, 16) : Number(dec)),
      )
    : s
}

/** A ListObjectsV2 result of the plain form (no CDATA, no URL-encoded keys), or `undefined`. */
export function parseListPage(xml: string): ListPage | undefined {
  const start = xml.indexOf('<ListBucketResult')
  if (start === -1 || xml.includes('<![CDATA[') || /<EncodingType>/.test(xml)) return undefined
  const field = (block: string, name: string) => {
    const open = block.indexOf(`<${name}>`)
    if (open === -1) return undefined
    const close = block.indexOf(`</${name}>`, open)
    return close === -1 ? undefined : xmlText(block.slice(open + name.length + 2, close))
  }
  const objects: StoredObject[] = []
  let rest = ''
  let at = start
  for (;;) {
    const open = xml.indexOf('<Contents>', at)
    if (open === -1) {
      rest += xml.slice(at)
      break
    }
    const close = xml.indexOf('</Contents>', open)
    if (close === -1) return undefined
    rest += xml.slice(at, open)
    const block = xml.slice(open + 10, close)
    const key = field(block, 'Key')
    const size = Number(field(block, 'Size') ?? 0)
    const modified = field(block, 'LastModified')
    if (key === undefined || !Number.isFinite(size)) return undefined
    objects.push({ key, size, etag: unquote(field(block, 'ETag')), lastModified: modified ? new Date(modified) : new Date(0) })
    at = close + 11
  }
  const truncated = field(rest, 'IsTruncated')
  return { objects, isTruncated: truncated === 'true', nextToken: field(rest, 'NextContinuationToken') }
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '')
}

/** Replace any occurrence of a secret in the message and data of an error. */
