/**
 * Contract tests of the S3 store against real servers (radosgw and s3rver, started by
 * test/global-setup.ts), through the real AWS SDK. What landed is always read back through the
 * SDK with the test's own client.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { CdnPublishError } from '../src/errors.js'
import { createS3Store, type S3StoreOptions } from '../src/bucket/s3.js'
import type { ObjectStore } from '../src/bucket/store.js'
import { md5hex, sha256hex as sha256 } from './helpers/digest.js'
import { adminClient, closedPort, credsEnv, listAll, objectExists, startCountingProxy, withEnv } from './helpers/s3.js'
import { assertNoSecrets as noSecretsIn } from './helpers/secrets.js'
import { restartFront, type S3ServerInfo } from './servers/index.js'

const servers = inject('s3servers')

// ---------------------------------------------------------------------------------------------
// helpers

function storeFor(server: S3ServerInfo, bucket: string, extra: Partial<S3StoreOptions> = {}): ObjectStore {
  return createS3Store({ bucket, endpoint: server.endpoint, region: server.region, forcePathStyle: true, ...extra })
}


async function readBack(client: S3Client, bucket: string, key: string) {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return { bytes: await r.Body!.transformToByteArray(), response: r }
}

const allKeys = async (client: S3Client, bucket: string, prefix: string) => (await listAll(client, bucket, prefix)).map((o) => o.key)

/** Every secret a message must never contain. */
const knownSecrets = new Set<string>()

/** Await a rejection, check it is a CdnPublishError with `code`, and that it leaks no secret. */
async function expectStoreError(p: Promise<unknown>, code: string): Promise<CdnPublishError> {
  const err = await p.then(
    () => {
      throw new Error(`expected a ${code} error, but the operation succeeded`)
    },
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(CdnPublishError)
  const e = err as CdnPublishError
  expect({ code: e.code, message: e.message }).toMatchObject({ code })
  assertNoSecrets(e)
  return e
}

function assertNoSecrets(e: { message: string; data?: unknown }) {
  noSecretsIn(knownSecrets, 'an error message', `${e.message}\n${JSON.stringify(e.data ?? {})}`)
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++])
    }),
  )
}


// ---------------------------------------------------------------------------------------------

test('the S3 test servers are running', () => {
  expect(servers.length).toBeGreaterThan(0)
})

describe.each(servers.map((s) => [s.name, s] as const))('createS3Store on %s', (name, server) => {
  const bucket = `cdn-store-${name}-${randomBytes(4).toString('hex')}`
  const admin = adminClient(server)
  let store: ObjectStore
  let tmp: string
  const isRgw = name === 'radosgw'

  beforeAll(async () => {
    knownSecrets.add(server.secretAccessKey)
    if (server.deniedUser) knownSecrets.add(server.deniedUser.secretAccessKey)
    tmp = mkdtempSync(join(tmpdir(), 'cdn-s3-store-test-'))
    await admin.send(new CreateBucketCommand({ Bucket: bucket }))
    store = storeFor(server, bucket)
  })
  afterAll(() => {
    admin.destroy()
    if (tmp) rmSync(tmp, { recursive: true, force: true })
  })
  const withCreds = <T>(fn: () => Promise<T>) => withEnv(credsEnv(server), fn)

  test('put bytes: the bytes and the headers land as sent', async () => {
    const source = Buffer.from('body{background:url(img/logo-0123abcd.png)}\n'.repeat(50))
    const gz = gzipSync(source)
    await withCreds(() =>
      store.put({
        key: 'assets/app-0123abcd.css',
        body: gz,
        contentLength: gz.length,
        contentType: 'text/css; charset=utf-8',
        cacheControl: 'public, max-age=31536000, immutable',
        contentEncoding: 'gzip',
        md5: md5hex(gz),
        metadata: { 'x-amz-meta-release': 'r1' },
      }),
    )
    const { bytes, response } = await readBack(admin, bucket, 'assets/app-0123abcd.css')
    expect(Buffer.from(bytes).equals(gz)).toBe(true)
    expect(response.ContentType).toBe('text/css; charset=utf-8')
    expect(response.CacheControl).toBe('public, max-age=31536000, immutable')
    expect(response.ContentEncoding).toBe('gzip')
    expect(response.Metadata).toMatchObject({ release: 'r1' })
    const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: 'assets/app-0123abcd.css' }))
    expect(head.ContentLength).toBe(gz.length)
    expect(head.ETag).toBe(`"${md5hex(gz)}"`)

    // and the store reads the same back
    const h = await withCreds(() => store.head('assets/app-0123abcd.css'))
    expect(h).toMatchObject({
      size: gz.length,
      etag: md5hex(gz),
      contentType: 'text/css; charset=utf-8',
      cacheControl: 'public, max-age=31536000, immutable',
      contentEncoding: 'gzip',
    })
    expect(h!.lastModified).toBeInstanceOf(Date)
    const got = await withCreds(() => store.getBytes('assets/app-0123abcd.css'))
    expect(Buffer.from(got!).equals(gz)).toBe(true)
  })

  test('put with a wrong md5', async () => {
    const body = Buffer.from('the real bytes')
    const put = () =>
      store.put({
        key: 'bad-digest.txt',
        body,
        contentLength: body.length,
        contentType: 'text/plain',
        cacheControl: 'no-cache',
        md5: md5hex(Buffer.from('other bytes')),
      })
    if (isRgw) {
      // radosgw checks Content-MD5: 400 BadDigest, nothing written
      const e = await withCreds(() => expectStoreError(put(), 'PUBLISH_FAILED'))
      expect(e.data.awsCode).toBe('BadDigest')
      expect(e.message).toContain('bad-digest.txt')
      expect(await objectExists(admin, bucket, 'bad-digest.txt')).toBe(false)
    } else {
      // s3rver does not check Content-MD5 (a known fault of the fake): the object is stored
      await withCreds(put)
      expect(Buffer.from((await readBack(admin, bucket, 'bad-digest.txt')).bytes).toString()).toBe('the real bytes')
    }
  })

  test('put from a file path streams the exact bytes', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17)
    const path = join(tmp, 'big.bin')
    writeFileSync(path, bytes)
    await withCreds(() =>
      store.put({
        key: 'files/big-0123abcd.bin',
        body: { path },
        contentLength: bytes.length,
        contentType: 'application/octet-stream',
        cacheControl: 'public, max-age=31536000, immutable',
        md5: md5hex(bytes),
      }),
    )
    const { bytes: back, response } = await readBack(admin, bucket, 'files/big-0123abcd.bin')
    expect(back.length).toBe(bytes.length)
    expect(sha256(back)).toBe(sha256(bytes))
    expect(response.ContentLength).toBe(bytes.length)
    expect(response.ETag).toBe(`"${md5hex(bytes)}"`)
  })

  test('a streamed put is retried after a 503 SlowDown and lands whole', async () => {
    const bytes = randomBytes(256 * 1024 + 3)
    const path = join(tmp, 'retry.bin')
    writeFileSync(path, bytes)
    const proxy = await startCountingProxy(server.endpoint)
    let puts = 0
    proxy.failWhen((r) => r.method === 'PUT' && ++puts === 1, { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' })
    try {
      const viaProxy = storeFor({ ...server, endpoint: proxy.endpoint }, bucket)
      await withCreds(() =>
        viaProxy.put({
          key: 'files/retried.bin',
          body: { path },
          contentLength: bytes.length,
          contentType: 'application/octet-stream',
          cacheControl: 'no-cache',
        }),
      )
      expect(proxy.requests().filter((r) => r.method === 'PUT').map((r) => r.status)).toEqual([503, 200])
    } finally {
      await proxy.close()
    }
    const { bytes: back } = await readBack(admin, bucket, 'files/retried.bin')
    expect(sha256(back)).toBe(sha256(bytes))
  })

  test('keys with spaces and unicode round-trip exactly through list', async () => {
    const keys = [
      'odd/a b/c d.txt',
      'odd/ünïcödé/日本語-ファイル.js',
      'odd/emoji 🎉.css',
      'odd/plus+sign.txt',
      'odd/percent%20literal.txt',
      'odd/tilde~and=equals&amp.txt',
      'odd/Ωmega/ßtraße.svg',
      // UTF-16 puts the emoji's surrogates before U+FF57; UTF-8 bytes (and S3) put it after
      'odd/ｗｉｄｅ.txt',
      'odd/🎉.txt',
    ]
    await withCreds(() =>
      mapLimit(keys, 4, (key) => {
        const body = Buffer.from(key)
        return store.put({ key, body, contentLength: body.length, contentType: 'text/plain', cacheControl: 'no-cache' })
      }),
    )
    const listed = await withCreds(() => store.list('odd/'))
    expect(listed.map((o) => o.key).sort()).toEqual([...keys].sort())
    for (const o of listed) {
      expect(o.size).toBe(Buffer.byteLength(o.key))
      expect(o.etag).toBe(md5hex(Buffer.from(o.key)))
      expect(o.lastModified).toBeInstanceOf(Date)
    }
    // listed in UTF-8 byte order
    const bytewise = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    expect(listed.map((o) => o.key)).toEqual(bytewise)
    // and the test's own client finds the same keys and bytes
    expect((await allKeys(admin, bucket, 'odd/')).sort()).toEqual([...keys].sort())
    for (const key of keys) {
      const { bytes } = await readBack(admin, bucket, key)
      expect(Buffer.from(bytes).toString()).toBe(key)
    }
  })

  test('list returns every key past 1000 (paged), and deleteMany removes them in batches', async () => {
    const keys = Array.from({ length: 1050 }, (_, i) => `many/obj-${String(i).padStart(4, '0')}.txt`)
    await withCreds(() =>
      mapLimit(keys, 32, (key) => {
        const body = Buffer.from(key)
        return store.put({ key, body, contentLength: body.length, contentType: 'text/plain', cacheControl: 'no-cache' })
      }),
    )
    const listed = await withCreds(() => store.list('many/'))
    expect(listed.length).toBe(1050)
    expect(listed.map((o) => o.key)).toEqual(keys)
    expect((await allKeys(admin, bucket, 'many/')).length).toBe(1050)

    const res = await withCreds(() => store.deleteMany(keys))
    expect(res.errors).toEqual([])
    expect(res.deleted.length).toBe(1050)
    expect(await allKeys(admin, bucket, 'many/')).toEqual([])
  })

  test('list pages with a small page size', async () => {
    const keys = Array.from({ length: 23 }, (_, i) => `paged/k${String(i).padStart(2, '0')}`)
    await withCreds(() =>
      mapLimit(keys, 8, (key) => store.put({ key, body: new Uint8Array([1]), contentLength: 1, contentType: 'text/plain', cacheControl: 'no-cache' })),
    )
    const small = storeFor(server, bucket, { listPageSize: 5 })
    const listed = await withCreds(() => small.list('paged/'))
    expect(listed.map((o) => o.key)).toEqual(keys)
  })

  test('head, getBytes and getJson of a missing key answer undefined', async () => {
    await withCreds(async () => {
      expect(await store.head('nope/missing.js')).toBeUndefined()
      expect(await store.getBytes('nope/missing.js')).toBeUndefined()
      expect(await store.getJson('nope/missing.json')).toBeUndefined()
    })
  })

  test('getJson parses what was put', async () => {
    const record = { version: 1, release: 'abc', files: ['a-1.js', 'b-2.css'], state: 'pending', n: 3.5, u: 'ünï' }
    const body = Buffer.from(JSON.stringify(record))
    await withCreds(() =>
      store.put({
        key: '.cdn-publish/releases/abc.json',
        body,
        contentLength: body.length,
        contentType: 'application/json',
        cacheControl: 'no-cache',
      }),
    )
    expect(await withCreds(() => store.getJson('.cdn-publish/releases/abc.json'))).toEqual(record)
  })

  test('deleteMany deletes a batch that includes a missing key, and reports no error for it', async () => {
    const keys = ['del/a.js', 'del/b.css', 'del/c d.png']
    await withCreds(() =>
      mapLimit(keys, 3, (key) => store.put({ key, body: Buffer.from(key), contentLength: Buffer.byteLength(key), contentType: 'text/plain', cacheControl: 'no-cache' })),
    )
    await withCreds(() => store.put({ key: 'del/keep.js', body: Buffer.from('keep'), contentLength: 4, contentType: 'text/plain', cacheControl: 'no-cache' }))
    const res = await withCreds(() => store.deleteMany([...keys, 'del/never-existed.js']))
    expect(res.errors).toEqual([])
    expect(res.deleted.sort()).toEqual([...keys, 'del/never-existed.js'].sort())
    expect(await allKeys(admin, bucket, 'del/')).toEqual(['del/keep.js'])
    expect(await withCreds(() => store.deleteMany([]))).toEqual({ deleted: [], errors: [] })
  })

  test('ifNoneMatch on an existing key', async () => {
    const first = Buffer.from('first')
    const second = Buffer.from('second!')
    const put = (body: Buffer) =>
      store.put({ key: 'inm/once.txt', body, contentLength: body.length, contentType: 'text/plain', cacheControl: 'no-cache', ifNoneMatch: true })
    await withCreds(() => put(first))
    if (isRgw) {
      // radosgw enforces If-None-Match: * (412 Precondition Failed); the object is unchanged
      const e = await withCreds(() => expectStoreError(put(second), 'PUBLISH_CONFLICT'))
      expect(e.data.httpStatus).toBe(412)
      expect(e.message).toContain('inm/once.txt')
      expect(Buffer.from((await readBack(admin, bucket, 'inm/once.txt')).bytes).toString()).toBe('first')
    } else {
      // s3rver ignores If-None-Match (a known fault of the fake): the second put overwrites.
      // This documents the difference; correctness must never rest on s3rver here.
      await withCreds(() => put(second))
      expect(Buffer.from((await readBack(admin, bucket, 'inm/once.txt')).bytes).toString()).toBe('second!')
    }
  })

  test('ifMatch: written only over the ETag named', async () => {
    const body = (s: string) => Buffer.from(s)
    const put = (text: string, ifMatch: string) =>
      store.put({ key: 'im/pointer.json', body: body(text), contentLength: body(text).length, contentType: 'text/plain', cacheControl: 'no-cache', ifMatch })
    await withCreds(() => store.put({ key: 'im/pointer.json', body: body('one'), contentLength: 3, contentType: 'text/plain', cacheControl: 'no-cache' }))
    // the right ETag: written, on both servers
    await withCreds(() => put('two', md5hex(body('one'))))
    expect(Buffer.from((await readBack(admin, bucket, 'im/pointer.json')).bytes).toString()).toBe('two')
    if (isRgw) {
      // radosgw 16 enforces If-Match on PUT: a stale ETag is 412 and the object is unchanged
      const e = await withCreds(() => expectStoreError(put('three', md5hex(body('one'))), 'PUBLISH_CONFLICT'))
      expect(e.data.httpStatus).toBe(412)
      expect(e.message).toContain('im/pointer.json')
      expect(Buffer.from((await readBack(admin, bucket, 'im/pointer.json')).bytes).toString()).toBe('two')
      // and on a key that does not exist
      const missing = store.put({ key: 'im/none.json', body: body('x'), contentLength: 1, contentType: 'text/plain', cacheControl: 'no-cache', ifMatch: md5hex(body('x')) })
      expect((await withCreds(() => expectStoreError(missing, 'PUBLISH_CONFLICT'))).data.httpStatus).toBe(412)
    } else {
      // s3rver ignores If-Match: the stale write lands (the switch lease covers such stores)
      await withCreds(() => put('three', md5hex(body('one'))))
      expect(Buffer.from((await readBack(admin, bucket, 'im/pointer.json')).bytes).toString()).toBe('three')
    }
  })

  test('a missing bucket is BUCKET_NOT_FOUND, naming bucket and endpoint', async () => {
    const missing = storeFor(server, `cdn-missing-${randomBytes(4).toString('hex')}`)
    await withCreds(async () => {
      const e = await expectStoreError(missing.list('x/'), 'BUCKET_NOT_FOUND')
      expect(e.message).toContain('cdn-missing-')
      expect(e.message).toContain(server.endpoint)
      expect(e.message).toMatch(/\blist\b/)
      const p = await expectStoreError(
        missing.put({ key: 'x/a.js', body: Buffer.from('a'), contentLength: 1, contentType: 'text/javascript', cacheControl: 'no-cache' }),
        'BUCKET_NOT_FOUND',
      )
      expect(p.message).toContain('x/a.js')
    })
    expect(missing.describe()).toContain(server.endpoint)
  })

  test('ACCESS_DENIED: a user without rights may not list, read, write or delete the bucket', async () => {
    if (!server.deniedUser) {
      // s3rver has one user and no permissions; an access key it does not know is its only refusal.
      await withEnv(credsEnv(server, { accessKeyId: 'UNKNOWNKEY0000000000', secretAccessKey: server.secretAccessKey }), async () => {
        const e = await expectStoreError(storeFor(server, bucket).list('private/'), 'ACCESS_DENIED')
        expect(e.message).toMatch(/does not know this access key id/)
        expect(e.message).toContain(bucket)
      })
      return
    }
    const denied = server.deniedUser
    await withCreds(() => store.put({ key: 'private/x.js', body: Buffer.from('x'), contentLength: 1, contentType: 'text/javascript', cacheControl: 'no-cache' }))
    await withEnv(credsEnv(server, denied), async () => {
      const other = storeFor(server, bucket)
      const l = await expectStoreError(other.list('private/'), 'ACCESS_DENIED')
      expect(l.message).toContain('s3:ListBucket')
      expect(l.message).toContain(bucket)
      const p = await expectStoreError(
        other.put({ key: 'private/intruder.js', body: Buffer.from('evil'), contentLength: 4, contentType: 'text/javascript', cacheControl: 'no-cache' }),
        'ACCESS_DENIED',
      )
      expect(p.message).toContain('s3:PutObject')
      expect(p.message).toContain('private/intruder.js')
      const g = await expectStoreError(other.getBytes('private/x.js'), 'ACCESS_DENIED')
      expect(g.message).toContain('s3:GetObject')
      const d = await other.deleteMany(['private/x.js'])
      expect(d.deleted).toEqual([])
      expect(d.errors.map((x) => x.key)).toEqual(['private/x.js'])
      for (const x of d.errors) assertNoSecrets(x)
    })
    expect(await objectExists(admin, bucket, 'private/intruder.js')).toBe(false)
    expect(await objectExists(admin, bucket, 'private/x.js')).toBe(true)
  })

  test('a wrong secret key', async () => {
    const wrong = `wrong${randomBytes(16).toString('hex')}`
    knownSecrets.add(wrong)
    await withEnv(credsEnv(server, { accessKeyId: server.accessKeyId, secretAccessKey: wrong }), async () => {
      const s = storeFor(server, bucket)
      if (isRgw) {
        const e = await expectStoreError(s.list('x/'), 'ACCESS_DENIED')
        expect(e.message).toMatch(/check the secret key/i)
        const h = await expectStoreError(s.head('assets/app-0123abcd.css'), 'ACCESS_DENIED')
        expect(h.message).toMatch(/secret key/i)
        const p = await expectStoreError(
          s.put({ key: 'wrong-secret.txt', body: Buffer.from('x'), contentLength: 1, contentType: 'text/plain', cacheControl: 'no-cache' }),
          'ACCESS_DENIED',
        )
        expect(p.message).toMatch(/check the secret key/i)
      } else {
        // s3rver does not verify SigV4 signatures (a known fault of the fake): any secret works
        await expect(s.list('x/')).resolves.toEqual([])
      }
    })
    expect(await objectExists(admin, bucket, 'wrong-secret.txt')).toBe(false)
  })

  test('restarting the front process keeps the data and the store recovers', async () => {
    await withCreds(() => store.put({ key: 'restart/a.txt', body: Buffer.from('kept'), contentLength: 4, contentType: 'text/plain', cacheControl: 'no-cache' }))
    await restartFront(server)
    const got = await withCreds(() => store.getBytes('restart/a.txt'))
    expect(Buffer.from(got!).toString()).toBe('kept')
    expect((await readBack(admin, bucket, 'restart/a.txt')).bytes.length).toBe(4)
  })
})

describe('createS3Store without a reachable store', () => {
  test('a closed loopback port is ENDPOINT_UNREACHABLE, well within a minute', async () => {
    const port = await closedPort()
    const endpoint = `http://127.0.0.1:${port}`
    const secret = `unreachable${randomBytes(12).toString('hex')}`
    knownSecrets.add(secret)
    const started = Date.now()
    await withEnv({ AWS_ACCESS_KEY_ID: 'AKIDUNREACHABLE', AWS_SECRET_ACCESS_KEY: secret, AWS_REGION: 'us-east-1' }, async () => {
      const s = createS3Store({ bucket: 'any-bucket', endpoint, forcePathStyle: true })
      const e = await expectStoreError(s.list('x/'), 'ENDPOINT_UNREACHABLE')
      expect(e.message).toContain(endpoint)
      expect(e.message).toContain('any-bucket')
      expect(e.message).toMatch(/ECONNREFUSED/)
      await expectStoreError(
        s.put({ key: 'k.js', body: Buffer.from('k'), contentLength: 1, contentType: 'text/javascript', cacheControl: 'no-cache' }),
        'ENDPOINT_UNREACHABLE',
      )
      const d = await s.deleteMany(['a', 'b'])
      expect(d.errors.map((x) => x.code)).toEqual(['ENDPOINT_UNREACHABLE', 'ENDPOINT_UNREACHABLE'])
    })
    expect(Date.now() - started).toBeLessThan(60_000)
  })

  test('no credentials anywhere is CREDENTIALS_MISSING, saying where they can come from', async () => {
    const port = await closedPort()
    const nowhere = join(tmpdir(), `cdn-no-aws-config-${randomBytes(4).toString('hex')}`)
    await withEnv({ AWS_REGION: 'us-east-1', AWS_CONFIG_FILE: nowhere, AWS_SHARED_CREDENTIALS_FILE: nowhere }, async () => {
      const s = createS3Store({ bucket: 'any-bucket', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true })
      const e = await expectStoreError(s.list('x/'), 'CREDENTIALS_MISSING')
      expect(e.message).toContain('AWS_ACCESS_KEY_ID')
      expect(e.message).toContain('AWS_PROFILE')
      expect(e.message).toMatch(/SSO/)
      expect(e.message).toMatch(/web identity/)
    })
  })

  test('describe() names bucket and endpoint', () => {
    const s = createS3Store({ bucket: 'b1', endpoint: 'http://127.0.0.1:7480', forcePathStyle: true })
    expect(s.describe()).toBe('s3://b1 (endpoint http://127.0.0.1:7480)')
  })
})
