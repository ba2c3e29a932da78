/**
 * Test helpers around the S3 test servers: the test's own SDK client (to create buckets and read
 * back what landed), environment isolation for credentials, and a counting loopback proxy that
 * sees every request the code under test sends.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import type { ReleaseRecord } from '../../src/bucket/record.js'
import { ENV_NAMES } from '../../src/options/env.js'
import type { S3ServerInfo } from '../servers/index.js'
import { recordKey } from './keys.js'
import { answerS3Error, forwardRequest, listenLoopback, parseS3Path } from './proxy.js'

/** Every variable that can steer the AWS SDK or the publish step (the publish step's own list, and the SDK's). */
export const ENV_VARS = [
  ...ENV_NAMES,
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
] as const

export type EnvVars = Partial<Record<(typeof ENV_VARS)[number], string>>

/**
 * Run `fn` with exactly these variables set (every other one of `ENV_VARS` unset, no shared AWS
 * config files, no instance metadata), then restore the environment.
 */
export async function withEnv<T>(vars: EnvVars, fn: () => Promise<T>): Promise<T> {
  const saved = new Map(ENV_VARS.map((k) => [k, process.env[k]]))
  for (const k of ENV_VARS) delete process.env[k]
  process.env.AWS_EC2_METADATA_DISABLED = 'true'
  process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config'
  process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials'
  Object.assign(process.env, vars)
  try {
    return await fn()
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

/** The server's credentials (or others) as environment variables. */
export function credsEnv(server: S3ServerInfo, creds: { accessKeyId: string; secretAccessKey: string } = server): EnvVars {
  return { AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey, AWS_REGION: server.region }
}

/** The test's own SDK client: creates buckets and reads back what the code under test wrote. */
export function adminClient(server: S3ServerInfo): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
}

/** A fresh bucket name (valid for S3 and both test servers). */
export function bucketName(label: string): string {
  return `cdn-${label}-${randomBytes(5).toString('hex')}`.toLowerCase().slice(0, 63)
}

export async function createBucket(client: S3Client, label: string): Promise<string> {
  const bucket = bucketName(label)
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  return bucket
}

export interface Listed {
  key: string
  size: number
  etag: string
  lastModified: string
}

/** Every object under `prefix`, in the order the server pages them. */
export async function listAll(client: S3Client, bucket: string, prefix = ''): Promise<Listed[]> {
  const out: Listed[] = []
  let token: string | undefined
  do {
    const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
    for (const o of r.Contents ?? []) {
      out.push({ key: o.Key!, size: o.Size ?? 0, etag: o.ETag ?? '', lastModified: o.LastModified?.toISOString() ?? '' })
    }
    token = r.IsTruncated ? r.NextContinuationToken : undefined
  } while (token)
  return out
}

export interface ReadBack {
  bytes: Buffer
  contentType?: string
  cacheControl?: string
  contentEncoding?: string
  contentDisposition?: string
  metadata?: Record<string, string>
  etag?: string
}

export async function readObject(client: S3Client, bucket: string, key: string): Promise<ReadBack> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  const out: ReadBack = { bytes: Buffer.from(await r.Body!.transformToByteArray()) }
  if (r.ContentType !== undefined) out.contentType = r.ContentType
  if (r.CacheControl !== undefined) out.cacheControl = r.CacheControl
  if (r.ContentEncoding !== undefined) out.contentEncoding = r.ContentEncoding
  if (r.ContentDisposition !== undefined) out.contentDisposition = r.ContentDisposition
  if (r.Metadata !== undefined) out.metadata = r.Metadata
  if (r.ETag !== undefined) out.etag = r.ETag
  return out
}

export async function objectExists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    return true
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false
    throw err
  }
}

/** The bytes of `key`, or undefined when there is no such object. */
export async function readBytes(client: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    return (await readObject(client, bucket, key)).bytes
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
    if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined
    throw err
  }
}

/** The release record of `release` under `prefix` as stored in the bucket, or undefined when there is none. */
export async function readRecord(client: S3Client, bucket: string, prefix: string, release: string): Promise<ReleaseRecord | undefined> {
  const bytes = await readBytes(client, bucket, recordKey(prefix, release))
  return bytes === undefined ? undefined : (JSON.parse(bytes.toString('utf8')) as ReleaseRecord)
}

export async function putObject(client: S3Client, bucket: string, key: string, body: Uint8Array | string, contentType = 'application/octet-stream') {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }))
}

/** Put many small objects, `concurrency` at a time. */
export async function putMany(client: S3Client, bucket: string, keys: string[], concurrency = 32): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length) {
        const key = keys[next++]
        await putObject(client, bucket, key, key, 'text/plain')
      }
    }),
  )
}

// ---------------------------------------------------------------------------------------------
// counting proxy

/** One request the proxy saw. */
export interface SeenRequest {
  method: string
  bucket: string
  /** Decoded object key ('' for bucket-level requests such as a listing). */
  key: string
  query: string
  status: number
}

export interface CountingProxy {
  /** Use as the endpoint (path-style). */
  endpoint: string
  /** Requests answered since the last `reset()`, in the order they arrived. */
  requests(): SeenRequest[]
  /** Number of requests by HTTP method since the last `reset()`. */
  count(method: string): number
  reset(): void
  /** Answer matching requests with an S3 error (500 InternalError unless said) instead of forwarding them. */
  failWhen(predicate: ((r: { method: string; bucket: string; key: string }) => boolean) | undefined, error?: InjectedError): void
  /**
   * Hold the first request that matches (not forwarded) until `release()`: `arrived` resolves
   * when it is being held. For ordering two clients deterministically.
   */
  hold(predicate: (r: { method: string; bucket: string; key: string; query: string }) => boolean): Gate
  close(): Promise<void>
}

export interface InjectedError {
  status: number
  code: string
  message: string
}

const INTERNAL_ERROR: InjectedError = { status: 500, code: 'InternalError', message: 'injected by the test proxy' }

export interface Gate {
  arrived: Promise<void>
  release(): void
}

/**
 * A loopback HTTP proxy in front of an S3 server that forwards every request unchanged (Host
 * header included, so signatures stay valid) and records method, bucket, key and status.
 */
export async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const target = new URL(upstream)
  let seen: SeenRequest[] = []
  let failing: ((r: { method: string; bucket: string; key: string }) => boolean) | undefined
  let injected = INTERNAL_ERROR
  let injectedCount = 0
  const gates: { predicate: Parameters<CountingProxy['hold']>[0]; arrive: () => void; released: Promise<void> }[] = []
  const server: Server = createServer(async (req, res) => {
    const { bucket, key, query } = parseS3Path(req.url)
    const entry: SeenRequest = { method: req.method ?? 'GET', bucket, key, query, status: 0 }
    const gate = gates.findIndex((g) => g.predicate(entry))
    if (gate !== -1) {
      const [g] = gates.splice(gate, 1)
      req.pause() // the body waits; piping it upstream below resumes it
      g.arrive()
      await g.released
    }
    if (failing?.({ method: entry.method, bucket, key })) {
      const e = injected
      answerS3Error(req, res, e, {
        requestId: `COUNTING${(injectedCount++).toString(16).toUpperCase().padStart(8, '0')}`,
        onAnswer: () => {
          entry.status = e.status
          seen.push(entry)
        },
      })
      return
    }
    forwardRequest(req, res, target, {
      onResponse: (upRes) => {
        entry.status = upRes.statusCode ?? 0
        seen.push(entry)
      },
    })
  })
  const endpoint = await listenLoopback(server)
  return {
    endpoint,
    requests: () => [...seen],
    count: (method) => seen.filter((r) => r.method === method).length,
    reset: () => {
      seen = []
    },
    failWhen: (p, error = INTERNAL_ERROR) => {
      failing = p
      injected = error
    },
    hold: (predicate) => {
      let arrive!: () => void
      let release!: () => void
      const arrived = new Promise<void>((r) => (arrive = r))
      const released = new Promise<void>((r) => (release = r))
      gates.push({ predicate, arrive, released })
      return { arrived, release }
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** A port on 127.0.0.1 that nothing listens on. */
export async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  await new Promise<void>((r) => s.close(() => r()))
  return port
}
