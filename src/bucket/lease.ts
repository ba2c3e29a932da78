/**
 * The switch lease: `<prefix>.cdn-publish/lease.json`, held by a publish or a rollback while it
 * changes what is served (the mutable files, the stable manifest, the release records). Two CI
 * jobs publishing to one prefix at once then switch one after the other, and the second sees
 * that the first moved the stable manifest before it touches anything served.
 *
 * Taking it: read the lease; while another holder's unexpired lease is there, wait (the holder
 * renews it while it works, and deletes it when done); otherwise write ours, conditionally
 * (If-None-Match: * over no lease, If-Match over an expired one), and read it back. ETags are the
 * store's (never the MD5 of the bytes: encrypted buckets differ).
 *
 * On a store that honours conditional writes (AWS S3, R2, MinIO, radosgw 16) only one writer
 * can take a free lease. On a store that ignores them (s3rver) the read-before and read-back
 * leave a window of a few milliseconds in which two writers can both believe they hold it;
 * the conditional PUT of the stable manifest is then the only guard, and s3rver ignores that
 * too. The README states this weaker guarantee.
 */
import { randomUUID } from 'node:crypto'
import { md5Hex } from '../build/hash.js'
import { CdnPublishError, Codes } from '../errors.js'
import { formatSeconds, type PublishLogger } from '../log.js'
import { META_DIR } from './record.js'
import type { ObjectStore } from './store.js'

/** Key of the lease, relative to the prefix. */
export const LEASE_KEY = `${META_DIR}lease.json`

/** What the lease object says. */
export interface LeaseBody {
  version: 1
  /** Random id of this holder (one run of one process). */
  holder: string
  operation: 'publish' | 'rollback'
  release: string
  label?: string
  acquiredAt: string
  /** The holder renews it well before; past it, the lease is free to take over. */
  expiresAt: string
}

export interface LeaseOptions {
  store: ObjectStore
  prefix: string
  operation: LeaseBody['operation']
  release: string
  label?: string
  logger: PublishLogger
  /** A lease not renewed for this long is free. @default 120000 */
  ttlMs?: number
  /** Give up waiting for another holder after this long (`PUBLISH_CONFLICT`). @default 600000 */
  waitMs?: number
}

export interface Lease {
  /** Milliseconds spent waiting for another holder. */
  waitedMs: number
  /** The holder this one waited for, if any. */
  waitedFor: LeaseBody | undefined
  /**
   * Throws `PUBLISH_CONFLICT` when the lease is no longer this holder's (a renewal found another
   * holder's lease: this one's had expired). Called before the write that switches.
   */
  assertHeld(): void
  /** Stop renewing and delete the lease. Never throws: an undeleted lease expires. */
  release(): Promise<void>
}

const DEFAULT_TTL_MS = 120_000
const DEFAULT_WAIT_MS = 600_000
/** Pauses between reads of a held lease: short first (a switch takes seconds), then 2 s. */
const POLL_MS = [100, 200, 400, 800, 1600, 2000]

/**
 * Take the lease of `prefix`, waiting while another holder has it.
 *
 * Expiry is judged on this machine's clock only, never by comparing clocks: a lease is free when
 * its holder has not renewed it (the same ETag) for `ttlMs` while this one watched, or when its
 * own `expiresAt` is more than `ttlMs` in the past here (one left by a run killed long ago).
 */
export async function acquireLease(o: LeaseOptions): Promise<Lease> {
  const { store, logger } = o
  const ttl = o.ttlMs ?? DEFAULT_TTL_MS
  const key = o.prefix + LEASE_KEY
  const holder = randomUUID()
  const started = Date.now()
  let waitedFor: LeaseBody | undefined
  /** The other holder's lease as first seen, and when: unchanged for `ttl`, it is free. */
  let watched: { etag: string; since: number } | undefined
  for (let attempt = 0; ; attempt++) {
    const held = await readLease(store, key)
    if (held && held.etag !== watched?.etag) watched = { etag: held.etag, since: Date.now() }
    const free = !held || Date.now() - watched!.since >= ttl || Date.parse(held.body.expiresAt) < Date.now() - ttl
    if (!free) {
      if (waitedFor?.holder !== held.body.holder) {
        logger.info(`waiting for the ${held.body.operation} of release ${describeHolder(held.body)} to finish switching ${store.describe()} prefix ${JSON.stringify(o.prefix)} (it took the lease ${key} at ${held.body.acquiredAt})`)
      }
      waitedFor = held.body
    } else {
      const body = leaseBody(o, holder, ttl)
      try {
        await putLease(store, key, body, held ? { ifMatch: held.etag } : { ifNoneMatch: true })
        const check = await readLease(store, key)
        // on a store that ignores conditions the last writer holds it
        if (check?.body.holder === holder) return holdLease(o, key, body, check.etag, ttl, Date.now() - started, waitedFor)
      } catch (err) {
        if (!(err instanceof CdnPublishError && err.code === Codes.PUBLISH_CONFLICT)) throw err
        // taken meanwhile: read it again, after a pause
      }
    }
    if (Date.now() - started > (o.waitMs ?? DEFAULT_WAIT_MS)) {
      const other = waitedFor ?? held?.body
      throw new CdnPublishError(
        Codes.PUBLISH_CONFLICT,
        `${other ? `the ${other.operation} of release ${describeHolder(other)}` : 'another publish'} has held the switch of ${store.describe()} prefix ${JSON.stringify(o.prefix)} for ${formatSeconds(Date.now() - started)} ` +
          `(lease ${key}). Nothing served was changed by this run; run it again once that one has finished (a killed run's lease is free ${formatSeconds(ttl)} after its last renewal).`,
        { key, ...(other ? { holder: other.release } : {}) },
      )
    }
    await pause(POLL_MS[Math.min(attempt, POLL_MS.length - 1)])
  }
}

function holdLease(o: LeaseOptions, key: string, body: LeaseBody, etag: string, ttl: number, waitedMs: number, waitedFor: LeaseBody | undefined): Lease {
  let current = etag
  let lost: LeaseBody | undefined
  let renewing: Promise<void> = Promise.resolve()
  const renew = async () => {
    if (lost) return
    try {
      await putLease(o.store, key, { ...body, expiresAt: new Date(Date.now() + ttl).toISOString() }, { ifMatch: current })
    } catch {
      // failed, or landed with its answer lost (then a retry got 412): what is stored says which
    }
    try {
      const stored = await readLease(o.store, key)
      if (stored?.body.holder === body.holder) current = stored.etag
      else if (stored) lost = stored.body
    } catch {
      // the next renewal tries again
    }
  }
  // renewed at a third of its lifetime, so two renewals can fail before it expires
  const timer = setInterval(() => {
    renewing = renewing.then(renew)
  }, Math.max(1000, Math.floor(ttl / 3)))
  timer.unref()
  return {
    waitedMs,
    waitedFor,
    assertHeld() {
      if (!lost) return
      throw new CdnPublishError(
        Codes.PUBLISH_CONFLICT,
        `the switch lease ${key} of ${o.store.describe()} was taken over by the ${lost.operation} of release ${describeHolder(lost)} (this run's had expired: renewals failed for ${formatSeconds(ttl)})`,
        { key, holder: lost.release },
      )
    },
    async release() {
      clearInterval(timer)
      await renewing
      if (lost) return
      try {
        const held = await readLease(o.store, key)
        if (held?.body.holder === body.holder) await o.store.deleteMany([key])
      } catch {
        // it expires
      }
    },
  }
}

function leaseBody(o: LeaseOptions, holder: string, ttl: number): LeaseBody {
  const at = Date.now()
  return {
    version: 1,
    holder,
    operation: o.operation,
    release: o.release,
    ...(o.label !== undefined ? { label: o.label } : {}),
    acquiredAt: new Date(at).toISOString(),
    expiresAt: new Date(at + ttl).toISOString(),
  }
}

async function putLease(store: ObjectStore, key: string, body: LeaseBody, condition: { ifMatch: string } | { ifNoneMatch: true }): Promise<void> {
  const bytes = Buffer.from(`${JSON.stringify(body)}\n`)
  await store.put({ key, body: bytes, contentLength: bytes.length, contentType: 'application/json', cacheControl: 'no-store', md5: md5Hex(bytes), ...condition })
}

/** The lease and its ETag as the store reports it; `undefined` when free. */
async function readLease(store: ObjectStore, key: string): Promise<{ body: LeaseBody; etag: string } | undefined> {
  const object = await store.getObject(key)
  if (object === undefined) return undefined
  try {
    const body = JSON.parse(Buffer.from(object.bytes).toString('utf8')) as LeaseBody
    if (body?.version === 1 && typeof body.holder === 'string' && typeof body.expiresAt === 'string') return { body, etag: object.etag }
  } catch {
    // not JSON
  }
  // not a lease this plugin wrote: long expired, so it is taken over
  return { body: { version: 1, holder: '', operation: 'publish', release: '(unknown)', acquiredAt: '', expiresAt: new Date(0).toISOString() }, etag: object.etag }
}

function describeHolder(b: LeaseBody): string {
  return `${b.release}${b.label ? ` "${b.label}"` : ''}`
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
