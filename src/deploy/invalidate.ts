/**
 * CDN invalidation after the switch (`publish.invalidate`): the mutable files the switch changed
 * (pages, the stable manifest, version files) are dropped from the CDN's caches, so a CDN that
 * kept them (a `no-cache` the CDN was told to override, a default TTL) serves the new release
 * at once. Fingerprinted files never need it: their names are new.
 *
 * One CloudFront CreateInvalidation per publish, after the stable manifest and the records are
 * written: the release is live before the CDN is told, so what it fetches again is the new
 * release. `CallerReference` is the release and the one it replaced, so a rerun of the same
 * switch is the same invalidation, and switching back to a release later is a new one.
 * TooManyInvalidationsInProgress (CloudFront's limit of concurrent invalidations) is retried
 * with pauses. Waiting for completion is optional and bounded. A failure is a warning: the
 * release is already live.
 */
import { createRequire } from 'node:module'
import { CdnPublishError, Codes } from '../errors.js'
import type { PublishLogger } from '../log.js'
import type { ResolvedCloudFront } from '../options/types.js'

/** Above this many paths, paths are collapsed to one wildcard per directory (CloudFront bills per path; a wildcard is one). */
export const COLLAPSE_ABOVE = 15
/** Pauses before retrying TooManyInvalidationsInProgress. */
const THROTTLE_PAUSES_MS = [1_000, 2_000, 4_000, 8_000, 16_000]
/** Pauses between two reads of the invalidation's status while waiting (the last one repeats). */
const WAIT_PAUSES_MS = [500, 1_000, 2_000, 5_000]

/** What the report says of the invalidation. */
export interface InvalidationSection {
  cdn: 'cloudfront'
  distributionId: string
  paths: string[]
  callerReference: string
  dryRun: boolean
  /** The invalidation's id and last known status (`InProgress`, `Completed`). */
  id?: string
  status?: string
  /** Why nothing was sent. */
  skipped?: string
  error?: { code: string; message: string }
}

/**
 * The URL paths of changed keys: each key with the origin path taken off, a page `…/index.html`
 * also as its directory `…/`, percent-encoded as CloudFront wants; above `COLLAPSE_ABOVE`, one
 * wildcard per directory, and above that again, one for the common directory of them all.
 * Keys outside the origin path are not served through the distribution and are left out.
 */
export function invalidationPaths(keys: string[], originPath: string): string[] {
  const base = originPath === '' ? '' : `${originPath.slice(1)}/`
  const paths = new Set<string>()
  for (const key of keys) {
    if (!key.startsWith(base)) continue
    const p = `/${key.slice(base.length)}`
    paths.add(p)
    if (p.endsWith('/index.html')) paths.add(p.slice(0, -'index.html'.length))
  }
  let out = [...paths]
  if (out.length > COLLAPSE_ABOVE) out = [...new Set(out.map((p) => `${p.slice(0, p.lastIndexOf('/') + 1)}*`))]
  if (out.length > COLLAPSE_ABOVE) {
    // '/a/b/*' → ['', 'a', 'b']: the segments of its directory
    const dirs = out.map((p) => p.split('/').slice(0, -1))
    let common = dirs[0]!
    for (const d of dirs) {
      let i = 0
      while (i < common.length && i < d.length && common[i] === d[i]) i++
      common = common.slice(0, i)
    }
    out = [`${common.join('/')}/*`]
  }
  return out.map((p) => encodeURI(p)).sort()
}

export interface InvalidateInput {
  cloudfront: ResolvedCloudFront
  /** Keys the switch wrote (the mutable files and the stable manifest), full keys. */
  changed: string[]
  release: string
  previous: string | undefined
  dryRun: boolean
  logger: PublishLogger
}

export async function invalidate(input: InvalidateInput): Promise<InvalidationSection> {
  const cf = input.cloudfront
  const paths = cf.paths ?? invalidationPaths(input.changed, cf.originPath)
  const section: InvalidationSection = {
    cdn: 'cloudfront',
    distributionId: cf.distributionId,
    paths,
    callerReference: `${input.release}-after-${input.previous ?? 'none'}`,
    dryRun: input.dryRun,
  }
  const what = `CloudFront distribution ${cf.distributionId}`
  if (input.changed.length === 0) {
    section.skipped = 'the switch changed no served file'
    input.logger.info(`invalidation skipped: the switch changed no served file of ${what}`)
    return section
  }
  if (input.dryRun) {
    input.logger.info(`would invalidate ${paths.length} path(s) on ${what}: ${paths.join(' ')}`)
    return section
  }
  try {
    const sdk = loadSdk()
    const client = new sdk.CloudFrontClient({ region: 'us-east-1', ...(cf.endpoint ? { endpoint: cf.endpoint } : {}) })
    try {
      const batch = { CallerReference: section.callerReference, Paths: { Quantity: paths.length, Items: paths } }
      let created
      for (let attempt = 0; ; attempt++) {
        try {
          created = await client.send(new sdk.CreateInvalidationCommand({ DistributionId: cf.distributionId, InvalidationBatch: batch }))
          break
        } catch (err) {
          const pause = THROTTLE_PAUSES_MS[attempt]
          if ((err as { name?: string }).name !== 'TooManyInvalidationsInProgress' || pause === undefined) throw err
          input.logger.info(`${what} has too many invalidations in progress; trying again in ${pause / 1000} s`)
          await delay(pause)
        }
      }
      section.id = created.Invalidation?.Id
      section.status = created.Invalidation?.Status
      input.logger.info(`invalidating ${paths.length} path(s) on ${what} (invalidation ${section.id ?? '?'}, ${section.status ?? 'status unknown'})`)
      if (cf.waitMs > 0 && section.id && section.status !== 'Completed') {
        const deadline = Date.now() + cf.waitMs
        for (let i = 0; section.status !== 'Completed'; i++) {
          const left = deadline - Date.now()
          if (left <= 0) {
            input.logger.info(`invalidation ${section.id} still ${section.status} after ${Math.round(cf.waitMs / 1000)} s; it completes on its own`)
            break
          }
          await delay(Math.min(WAIT_PAUSES_MS[Math.min(i, WAIT_PAUSES_MS.length - 1)]!, left))
          const got = await client.send(new sdk.GetInvalidationCommand({ DistributionId: cf.distributionId, Id: section.id }))
          section.status = got.Invalidation?.Status ?? section.status
        }
        if (section.status === 'Completed') input.logger.info(`invalidation ${section.id} completed`)
      }
    } finally {
      client.destroy()
    }
  } catch (err) {
    const e = err as { name?: string; message?: string; code?: string }
    const message =
      `the invalidation of ${paths.length} path(s) on ${what} failed (${e.name ?? 'Error'}: ${e.message ?? String(err)}). ` +
      'The release is live; the CDN serves what it cached of the changed pages until it revalidates them. ' +
      `Invalidate ${paths.join(' ')} by hand, or publish again once the cause is fixed.`
    section.error = { code: err instanceof CdnPublishError ? err.code : (e.name ?? 'Error'), message }
    input.logger.warn(message, Codes.INVALIDATION_FAILED)
  }
  return section
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The CloudFront SDK, an optional peer dependency, loaded only to invalidate. */
function loadSdk(): typeof import('@aws-sdk/client-cloudfront') {
  try {
    return createRequire(import.meta.url)('@aws-sdk/client-cloudfront') as typeof import('@aws-sdk/client-cloudfront')
  } catch {
    throw new CdnPublishError(
      Codes.INVALIDATION_FAILED,
      'publish.invalidate.cloudfront needs the package @aws-sdk/client-cloudfront: npm install --save-dev @aws-sdk/client-cloudfront',
    )
  }
}
