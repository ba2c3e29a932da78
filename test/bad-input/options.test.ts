/**
 * Bad input, options: invalid types and values of the build, publish and retention options (and
 * of the environment variables standing in for them), each in a real Vite build whose publish
 * target is otherwise valid: a fresh bucket on each S3 test server, reached through a counting
 * loopback proxy. Every one must fail the build with INVALID_OPTION naming the option and the rule
 * it breaks, when the build starts: no output directory is written, no stack trace printed, no
 * secret echoed, and not a single request sent to the store.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import type { CdnPublishOptions, PublishOptions, RetentionOptions } from '../../src/index.js'
import { adminClient, createBucket, credsEnv, listAll, startCountingProxy, withEnv, type CountingProxy, type EnvVars } from '../helpers/s3.js'
import { fixtureCopies } from '../helpers/build.js'
import { expectFailed, STACK_RE, tryBuild } from './helpers.js'

const servers = inject('s3servers')
const fx = fixtureCopies()
afterAll(() => fx.cleanup())

const PASSWORD = 'pAsSw0rd-in-the-URL-9f3e'
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'

interface Row {
  /** What is wrong. */
  label: string
  /** The plugin options, given a valid bucket and endpoint to publish to. */
  options: (bucket: string, endpoint: string) => CdnPublishOptions
  env?: EnvVars
  /** The option (or variable) the message must name, as it names it. */
  names: string
  /** More the message must say. */
  says?: RegExp
  /** Strings that must appear nowhere (message, stack, logs). */
  never?: string[]
  /**
   * Checked when the build starts (buildStart), not by the publish step: the bundler attaches its
   * own stack to these, and the README promises stack-free messages for publish errors only.
   */
  buildOption?: true
}

const target = (bucket: string, endpoint: string, extra: Record<string, unknown> = {}): PublishOptions =>
  ({ bucket, endpoint, forcePathStyle: true, prefix: 'site/', ...extra }) as PublishOptions
const publishing = (extra: Record<string, unknown>, top: Record<string, unknown> = {}) => (bucket: string, endpoint: string) =>
  ({ publish: target(bucket, endpoint, extra), ...top }) as CdnPublishOptions
const retaining = (retention: Record<string, unknown>) => publishing({}, { retention: retention as RetentionOptions })

const rows: Row[] = [
  // build options
  { buildOption: true, label: 'fingerprint.hashLength 7', options: publishing({}, { fingerprint: { hashLength: 7 } }), names: '`fingerprint.hashLength`', says: /an integer from 8 to 43, got 7/ },
  { buildOption: true, label: 'fingerprint.hashLength 44', options: publishing({}, { fingerprint: { hashLength: 44 } }), names: '`fingerprint.hashLength`', says: /got 44/ },
  { buildOption: true, label: 'fingerprint.hashLength "8"', options: publishing({}, { fingerprint: { hashLength: '8' } }), names: '`fingerprint.hashLength`', says: /got "8"/ },
  { buildOption: true, label: 'fingerprint.public "no"', options: publishing({}, { fingerprint: { public: 'no' } }), names: '`fingerprint.public`', says: /a boolean/ },
  { buildOption: true, label: "manifest '../x.json'", options: publishing({}, { manifest: '../x.json' }), names: '`manifest`', says: /relative to the output directory.*"\.\.\/x\.json"/ },
  { buildOption: true, label: "manifest '/abs/x.json'", options: publishing({}, { manifest: '/abs/x.json' }), names: '`manifest`', says: /"\/abs\/x\.json"/ },
  { buildOption: true, label: "strict 'yes'", options: publishing({}, { strict: 'yes' }), names: '`strict`', says: /a boolean, got "yes"/ },
  // publish options
  {
    label: "publish.bucket 's3://<bucket>/p'",
    options: (bucket, endpoint) => ({ publish: target(`s3://${bucket}/p`, endpoint, { prefix: undefined }) }),
    names: '`publish.bucket`',
    says: /not an s3:\/\/ URL \(use bucket 'cdn-opt-[0-9a-f]+' and prefix 'p\/'\)/,
  },
  { label: 'publish.bucket with a space', options: (bucket, endpoint) => ({ publish: target(`${bucket} x`, endpoint) }), names: '`publish.bucket`', says: /only letters, digits, '\.', '-' and '_', this one has " " at position \d+/ },
  { label: "publish.bucket 'ab'", options: (_bucket, endpoint) => ({ publish: target('ab', endpoint) }), names: '`publish.bucket`', says: /\(3 to 63 characters, this one has 2\), got "ab"/ },
  { label: 'publish.bucket of 64 characters', options: (_bucket, endpoint) => ({ publish: target('a'.repeat(64), endpoint) }), names: '`publish.bucket`', says: /3 to 63 characters, this one has 64/ },
  { label: "publish.bucket '-site'", options: (_bucket, endpoint) => ({ publish: target('-site', endpoint) }), names: '`publish.bucket`', says: /a letter or digit at each end/ },
  { label: "publish.report ''", options: publishing({ report: '' }), names: '`publish.report`', says: /a file path, or false/ },
  { label: "publish.prefix '../x'", options: publishing({ prefix: '../x' }), names: '`publish.prefix`', says: /no empty, '\.' or '\.\.' segments.*"\.\.\/x"/ },
  { label: "publish.prefix 'a//b'", options: publishing({ prefix: 'a//b' }), names: '`publish.prefix`', says: /"a\/\/b"/ },
  { label: "publish.endpoint 'ftp://x'", options: publishing({ endpoint: 'ftp://x' }), names: '`publish.endpoint`', says: /http\(s\) URL.*"ftp:\/\/x"/ },
  {
    label: 'publish.endpoint with user:password',
    options: (bucket, endpoint) => ({ publish: target(bucket, endpoint.replace('http://', `http://deploy:${PASSWORD}@`)) }),
    names: '`publish.endpoint`',
    says: /user name or password \(those are not printed\)/,
    never: [PASSWORD, `deploy:${PASSWORD}`],
  },
  { label: 'publish.endpoint with a query', options: (bucket, endpoint) => ({ publish: target(bucket, `${endpoint}/?region=x`) }), names: '`publish.endpoint`', says: /without query or fragment/ },
  { label: 'publish.concurrency 0', options: publishing({ concurrency: 0 }), names: '`publish.concurrency`', says: /an integer from 1 to 128, got 0/ },
  { label: 'publish.concurrency 2.5', options: publishing({ concurrency: 2.5 }), names: '`publish.concurrency`', says: /got 2\.5/ },
  { label: 'publish.headers with Content-Length', options: publishing({ headers: [{ match: '**', headers: { 'Content-Length': '1' } }] }), names: '`publish.headers[0].headers`', says: /"Content-Length", which the publish step sets itself/ },
  { label: 'publish.headers with x-amz-checksum-sha256', options: publishing({ headers: [{ match: '**', headers: { 'x-amz-checksum-sha256': 'x' } }] }), names: '`publish.headers[0].headers`', says: /"x-amz-checksum-sha256"/ },
  { label: 'publish.headers with a newline in a value', options: publishing({ headers: [{ match: '*.html', headers: { 'Cache-Control': 'no-cache\r\nX-Evil: 1' } }] }), names: '`publish.headers[0].headers["Cache-Control"]`', says: /on one line/ },
  { label: "publish.precompress 'zip'", options: publishing({ precompress: 'zip' }), names: '`publish.precompress`', says: /'gzip', 'br'.*got "zip"/ },
  { label: "publish.precompress { encoding: 'deflate' }", options: publishing({ precompress: { encoding: 'deflate' } }), names: '`publish.precompress.encoding`', says: /got "deflate"/ },
  { label: "publish.region 'eu west 1'", options: publishing({ region: 'eu west 1' }), names: '`publish.region`', says: /a region name/ },
  {
    label: 'a credential-looking publish.secretAccessKey',
    options: publishing({ secretAccessKey: SECRET }),
    names: '`publish.secretAccessKey`',
    says: /credentials are never options.*AWS_ACCESS_KEY_ID/,
    never: [SECRET],
  },
  { label: 'a credential-looking publish.credentials', options: publishing({ credentials: { accessKeyId: 'AKIAX', secretAccessKey: SECRET } }), names: '`publish.credentials`', says: /credentials are never options/, never: [SECRET] },
  { label: 'an unknown publish.acl', options: publishing({ acl: 'public-read' }), names: '`publish.acl`', says: /one of the known options/ },
  // retention options
  { label: 'retention.releases 0', options: retaining({ releases: 0 }), names: '`retention.releases`', says: /an integer >= 1.*got 0/ },
  { label: "retention.releases '3'", options: retaining({ releases: '3' }), names: '`retention.releases`', says: /got "3"/ },
  { label: "retention.grace '1x'", options: retaining({ grace: '1x' }), names: '`retention.grace`', says: /'90s', '15m', '1h'.*got "1x"/ },
  { label: 'retention.minAge -1', options: retaining({ minAge: -1 }), names: '`retention.minAge`', says: /non-negative.*got -1/ },
  { label: "retention.minAge '5000' (no unit)", options: retaining({ minAge: '5000' }), names: '`retention.minAge`', says: /needs a unit/ },
  { label: "retention.orphans 'maybe'", options: retaining({ orphans: 'maybe' }), names: '`retention.orphans`', says: /'keep' or 'delete', got "maybe"/ },
  { label: "retention.allowRootPrefix 'yes'", options: retaining({ allowRootPrefix: 'yes' }), names: '`retention.allowRootPrefix`', says: /a boolean/ },
  { label: 'unknown retention.version_limit (s3_asset_deploy)', options: retaining({ version_limit: 2 }), names: '`retention.version_limit`', says: /unknown option.*use `releases` \(= version_limit \+ 1\)/ },
  { label: 'unknown retention.removed_ttl (s3_asset_deploy)', options: retaining({ removed_ttl: '1h' }), names: '`retention.removed_ttl`', says: /use `grace`/ },
  { label: 'retention as a number', options: (bucket, endpoint) => ({ publish: target(bucket, endpoint), retention: 3 as unknown as RetentionOptions }), names: '`retention`', says: /an object or false/ },
  // environment variables standing in for options
  { label: "CDN_PUBLISH_PREFIX 'a/../b'", options: publishing({ prefix: undefined }), env: { CDN_PUBLISH_PREFIX: 'a/../b' }, names: 'CDN_PUBLISH_PREFIX', says: /Invalid environment variable CDN_PUBLISH_PREFIX.*"a\/\.\.\/b"/ },
  { label: "CDN_PUBLISH_BUCKET 'ab'", options: (_bucket, endpoint) => ({ publish: { endpoint, forcePathStyle: true } }), env: { CDN_PUBLISH_BUCKET: 'ab' }, names: 'CDN_PUBLISH_BUCKET', says: /Invalid environment variable CDN_PUBLISH_BUCKET: expected a bucket name such as 'my-site-assets' \(3 to 63 characters, this one has 2\)/ },
  { label: "CDN_PUBLISH_DRY_RUN 'perhaps'", options: publishing({}), env: { CDN_PUBLISH_DRY_RUN: 'perhaps' }, names: 'CDN_PUBLISH_DRY_RUN', says: /true or false.*got "perhaps"/ },
  {
    label: 'CDN_PUBLISH_ENDPOINT with a password',
    options: (bucket) => ({ publish: { bucket, forcePathStyle: true } }),
    env: { CDN_PUBLISH_ENDPOINT: `http://deploy:${PASSWORD}@127.0.0.1:9` },
    names: 'CDN_PUBLISH_ENDPOINT',
    says: /user name or password \(not printed\)/,
    never: [PASSWORD],
  },
]

describe.each(servers.map((s) => [s.name, s] as const))('INVALID_OPTION on %s', (_name, server) => {
  const admin = adminClient(server)
  let proxy: CountingProxy
  beforeAll(async () => {
    proxy = await startCountingProxy(server.endpoint)
  })
  afterAll(async () => {
    await proxy?.close()
    admin.destroy()
  })

  test.each(rows.map((r) => [r.label, r] as const))('%s: the build fails naming it, nothing reaches the bucket', async (_label, row) => {
    const bucket = await createBucket(admin, 'opt')
    const root = fx.copy()
    proxy.reset()
    const o = await withEnv({ ...credsEnv(server), ...row.env }, () => tryBuild('vite8', root, row.options(bucket, proxy.endpoint)))
    const error = expectFailed(o)
    expect(error.pluginCode).toBe('INVALID_OPTION')
    expect(error.plugin).toBe('cdn-publish')
    expect(error.message).toContain(row.names)
    if (row.says) expect(error.message).toMatch(row.says)
    if (!row.buildOption) expect(String(error.stack ?? ''), 'no stack trace').not.toMatch(STACK_RE)
    const everything = `${error.message}\n${String(error.stack)}\n${JSON.stringify({ ...error })}\n${o.logs.text()}`
    for (const s of row.never ?? []) expect(everything.includes(s), `the output echoes ${JSON.stringify(s)}`).toBe(false)
    // the build stopped before it wrote anything
    expect(existsSync(path.join(root, 'dist')), 'no output directory').toBe(false)
    // not one request, and the bucket is as empty as it was created
    expect(proxy.requests()).toEqual([])
    expect(await listAll(admin, bucket)).toEqual([])
  })
})
