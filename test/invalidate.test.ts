/**
 * `publish.invalidate.cloudfront`: after the switch, one CreateInvalidation of the mutable files
 * the switch changed. CloudFront cannot run here, so the requests go through the real
 * `@aws-sdk/client-cloudfront` to a loopback STAND-IN speaking CloudFront's REST/XML
 * (test/helpers/cloudfront-standin.ts), named as such; the bucket is each real S3 test server.
 * Asserted on what the stand-in received: the paths (through the origin path), CallerReference,
 * that the stable manifest already named the new release when the request arrived, the retry on
 * a throttle, the bounded wait; a refused invalidation is a warning and the release stays live;
 * a dry run sends nothing and lists the paths.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { invalidationPaths } from '../src/deploy/invalidate.js'
import type { InvalidationSection } from '../src/deploy/invalidate.js'
import { resolvePublishOptions } from '../src/options/publish.js'
import type { CdnManifest, PublishOptions } from '../src/index.js'
import { captureLogs, codes, fixtureCopies, readReport, viteBuild } from './helpers/build.js'
import { startCloudFrontStandIn, type CloudFrontStandIn } from './helpers/cloudfront-standin.js'
import { adminClient, createBucket, credsEnv, readBytes, withEnv } from './helpers/s3.js'

const servers = inject('s3servers')
const fx = fixtureCopies()
afterAll(() => fx.cleanup())

describe('invalidationPaths', () => {
  test('each key as a URL path through the origin path; a directory index also as its directory', () => {
    expect(invalidationPaths(['static/index.html', 'static/about/index.html', 'static/cdn-manifest.json'], '')).toEqual([
      '/static/',
      '/static/about/',
      '/static/about/index.html',
      '/static/cdn-manifest.json',
      '/static/index.html',
    ])
    expect(invalidationPaths(['static/index.html', 'other/x.html'], '/static')).toEqual(['/', '/index.html'])
    expect(invalidationPaths(['static/a b/ü.html'], '')).toEqual(['/static/a%20b/%C3%BC.html'])
  })
  test('above 15 paths, one wildcard per directory; above that again, one for their common directory', () => {
    const many = Array.from({ length: 20 }, (_, i) => `site/docs/page-${i}.html`)
    expect(invalidationPaths([...many, 'site/cdn-manifest.json'], '')).toEqual(['/site/*', '/site/docs/*'])
    const dirs = Array.from({ length: 20 }, (_, i) => `site/d${i}/index.html`)
    expect(invalidationPaths(dirs, '')).toEqual(['/site/*'])
  })
})

describe('the option', () => {
  const env = (vars: Record<string, string>) => ({ process: vars })
  test('the distribution from the environment turns it on; the endpoint is the environment’s', () => {
    expect(resolvePublishOptions({ bucket: 'my-bucket' }, env({})).invalidate).toBeUndefined()
    expect(resolvePublishOptions({ bucket: 'my-bucket' }, env({ CDN_PUBLISH_CLOUDFRONT_DISTRIBUTION: 'E2QWRUHAPOMQZL', CDN_PUBLISH_CLOUDFRONT_ENDPOINT: 'http://127.0.0.1:9' })).invalidate).toEqual({
      cloudfront: { distributionId: 'E2QWRUHAPOMQZL', originPath: '', paths: undefined, waitMs: 0, endpoint: 'http://127.0.0.1:9' },
    })
    expect(resolvePublishOptions({ bucket: 'my-bucket', invalidate: { cloudfront: { distributionId: 'E1', originPath: '/static', wait: 30 } } }, env({})).invalidate?.cloudfront).toMatchObject({ originPath: '/static', waitMs: 30_000 })
  })
  test.each<[PublishOptions, string]>([
    [{ bucket: 'my-bucket', invalidate: { cloudfront: {} } }, 'Invalid option `publish.invalidate.cloudfront.distributionId`: expected the id of the distribution (here or in CDN_PUBLISH_CLOUDFRONT_DISTRIBUTION), got none.'],
    [{ bucket: 'my-bucket', invalidate: { fastly: {} } as never }, 'Invalid option `publish.invalidate.fastly`: expected a known CDN (cloudfront), got an unknown option.'],
    [{ bucket: 'my-bucket', invalidate: { cloudfront: { distributionId: 'E1', originPath: 'static/' } } }, "Invalid option `publish.invalidate.cloudfront.originPath`: expected '' or a path such as '/static' (as the distribution's origin settings say it), got \"static/\"."],
    [{ bucket: 'my-bucket', invalidate: { cloudfront: { distributionId: 'E1', paths: ['*'] } } }, "Invalid option `publish.invalidate.cloudfront.paths`: expected a list of URL paths starting with '/', such as ['/*'], got [\"*\"]."],
    [{ bucket: 'my-bucket', invalidate: { cloudfront: { distributionId: 'E1', wait: -1 } } }, 'Invalid option `publish.invalidate.cloudfront.wait`: expected true, false, or the most seconds to wait (at most 3600), got -1.'],
  ])('%j is refused, naming the option', (options, message) => {
    expect(() => resolvePublishOptions(options, env({}))).toThrow(message)
  })
})

describe.each(servers.map((s) => [s.name, s] as const))('invalidation through the CloudFront stand-in, bucket on %s', (name, server) => {
  const admin = adminClient(server)
  let standIn: CloudFrontStandIn
  /** The release the bucket's stable manifest names when the stand-in is asked (set per test). */
  let bucketNow: string | undefined
  const PREFIX = 'static/'
  beforeAll(async () => {
    standIn = await startCloudFrontStandIn({
      observe: async () => {
        if (!bucketNow) return undefined
        const bytes = await readBytes(admin, bucketNow, `${PREFIX}cdn-manifest.json`)
        return bytes ? (JSON.parse(bytes.toString('utf8')) as { release: string }).release : undefined
      },
    })
  })
  afterAll(async () => {
    await standIn?.close()
    admin.destroy()
  })

  /** Each test its own distribution: CloudFront keeps CallerReferences per distribution, and the fixture builds the same release each time. */
  async function publish(root: string, bucket: string, extra: Partial<PublishOptions> = {}, distribution = 'E2QWRUHAPOMQZL') {
    bucketNow = bucket
    const logs = captureLogs()
    const r = await withEnv({ ...credsEnv(server), CDN_PUBLISH_CLOUDFRONT_DISTRIBUTION: distribution, CDN_PUBLISH_CLOUDFRONT_ENDPOINT: standIn.endpoint }, () =>
      viteBuild('vite8', root, { publish: { bucket, prefix: PREFIX, endpoint: server.endpoint, forcePathStyle: true, invalidate: { cloudfront: { originPath: '' } }, ...extra } }, { customLogger: logs.logger }),
    )
    return { r, logs: logs.text(), invalidation: readReport<{ invalidation?: InvalidationSection }>(root).invalidation }
  }
  const since = (n: number) => standIn.requests().slice(n)
  /** What the switch of a first publish writes, as URL paths: every mutable file, a directory for index.html, the manifest. */
  const firstPaths = (m: CdnManifest) =>
    [...Object.keys(m.files).filter((f) => !m.files[f]!.immutable).map((f) => `/${PREFIX}${f}`), `/${PREFIX}`, `/${PREFIX}cdn-manifest.json`].sort()

  test('after the switch: the changed pages and manifest, CallerReference release-after-previous; a rerun sends nothing', async () => {
    const bucket = await createBucket(admin, `inv-${name}`)
    const app = fx.app()
    const n0 = standIn.requests().length
    const first = await publish(app.root, bucket)
    expect(codes(first.r)).toEqual([])
    const release1 = first.r.manifest!.release
    const sent = since(n0)
    expect(sent).toEqual([
      {
        method: 'POST',
        path: '/2020-05-31/distribution/E2QWRUHAPOMQZL/invalidation',
        signed: true,
        distributionId: 'E2QWRUHAPOMQZL',
        batch: { callerReference: `${release1}-after-none`, paths: firstPaths(first.r.manifest!) },
        observed: release1,
        status: 201,
      },
    ])
    expect(first.invalidation).toMatchObject({ cdn: 'cloudfront', distributionId: 'E2QWRUHAPOMQZL', status: 'InProgress', dryRun: false })
    expect(first.logs).toMatch(/invalidating 7 path\(s\) on CloudFront distribution E2QWRUHAPOMQZL \(invalidation I\d+, InProgress\)/)

    const n1 = standIn.requests().length
    const again = await publish(app.root, bucket)
    expect(codes(again.r)).toEqual([])
    expect(since(n1)).toEqual([])
    expect(again.invalidation).toMatchObject({ skipped: 'the switch changed no served file' })

    app.set({ lazy: 'two' })
    const n2 = standIn.requests().length
    const second = await publish(app.root, bucket)
    const release2 = second.r.manifest!.release
    // the lazy chunk changed: its name is new (never invalidated); the page naming it and the manifest changed
    expect(since(n2).map((q) => [q.batch?.callerReference, q.batch?.paths, q.observed])).toEqual([
      [`${release2}-after-${release1}`, ['/static/', '/static/cdn-manifest.json', '/static/index.html'], release2],
    ])
  })

  test('TooManyInvalidationsInProgress is retried; wait polls GetInvalidation until Completed', async () => {
    const bucket = await createBucket(admin, `inv-retry-${name}`)
    const app = fx.app()
    standIn.throttle(1)
    standIn.completeAfterReads(2)
    const n0 = standIn.requests().length
    const { r, invalidation, logs } = await publish(app.root, bucket, { invalidate: { cloudfront: { wait: 30 } } }, 'ERETRY')
    standIn.completeAfterReads(0)
    expect(codes(r)).toEqual([])
    const sent = since(n0)
    expect(sent.map((q) => [q.method, q.status])).toEqual([
      ['POST', 400],
      ['POST', 201],
      ['GET', 200],
      ['GET', 200],
      ['GET', 200],
    ])
    expect(sent[0]!.batch).toEqual(sent[1]!.batch)
    expect(logs).toContain('has too many invalidations in progress; trying again in 1 s')
    expect(invalidation).toMatchObject({ status: 'Completed' })
    expect(logs).toMatch(/invalidation I\d+ completed/)
  })

  test('the wait is bounded: still in progress after it, the publish ends without a warning', async () => {
    const bucket = await createBucket(admin, `inv-wait-${name}`)
    const app = fx.app()
    standIn.completeAfterReads(Infinity)
    const { r, invalidation, logs } = await publish(app.root, bucket, { invalidate: { cloudfront: { wait: 1 } } }, 'EWAIT')
    standIn.completeAfterReads(0)
    expect(codes(r)).toEqual([])
    expect(invalidation).toMatchObject({ status: 'InProgress' })
    expect(logs).toMatch(/invalidation I\d+ still InProgress after 1 s; it completes on its own/)
  })

  test('a refused invalidation is the warning INVALIDATION_FAILED; the release is live', async () => {
    const bucket = await createBucket(admin, `inv-fail-${name}`)
    const app = fx.app()
    standIn.refuse('EMISSING')
    const { r, invalidation } = await publish(app.root, bucket, {}, 'EMISSING')
    expect(codes(r)).toEqual(['INVALIDATION_FAILED'])
    const warning = r.warnings.find((w) => w.pluginCode === 'INVALIDATION_FAILED')!
    expect(warning.message).toContain('the invalidation of 7 path(s) on CloudFront distribution EMISSING failed (NoSuchDistribution: The specified distribution does not exist.). The release is live')
    expect(warning.message).not.toContain(server.secretAccessKey)
    expect(invalidation?.error?.code).toBe('NoSuchDistribution')
    const stable = JSON.parse((await readBytes(admin, bucket, `${PREFIX}cdn-manifest.json`))!.toString('utf8')) as { release: string }
    expect(stable.release).toBe(r.manifest!.release)
  })

  test('a dry run lists the paths and sends nothing', async () => {
    const bucket = await createBucket(admin, `inv-dry-${name}`)
    const app = fx.app()
    const n0 = standIn.requests().length
    const { r, logs } = await publish(app.root, bucket, { dryRun: true, invalidate: { cloudfront: { originPath: '/static' } } }, 'EDRY')
    expect(codes(r)).toEqual([])
    expect(since(n0)).toEqual([])
    expect(logs).toContain('would invalidate 7 path(s) on CloudFront distribution EDRY: / /cdn-manifest.json /fonts/fixture.woff2 /img/hero.png /img/logo.png /index.html /robots.txt')
  })
})
