/**
 * Bad input, publishing: wrong or missing credentials, a wrong region, a bucket that does not
 * exist, refused operations, an output directory changed between the build and a CLI publish,
 * and empty prefixes with retention on. Real Vite builds publish to both S3 test servers with
 * the real SDK; the CLI cases spawn the built `dist/cli/index.js` (run `npm run build` first).
 *
 * Each bucket first gets a complete release A. Whatever goes wrong afterwards, release A must
 * still be complete and current, and a failure before any write must leave the bucket exactly as
 * it was (same keys, sizes, ETags and modification times).
 */
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { HeadBucketCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3'
import { afterAll, describe, expect, inject, test } from 'vitest'
import type { PublishReport } from '../../src/publish/report.js'
import { fixtureCopies, readReport, type BuildResult } from '../helpers/build.js'
import { cliEnv, runCli } from '../helpers/cli.js'
import { recordKey } from '../helpers/keys.js'
import { adminClient, createBucket, credsEnv, objectExists, putObject, withEnv, type EnvVars } from '../helpers/s3.js'
import { bucketState, expectCurrent, expectFailed, expectOk, expectSuperset, releaseKeys, STACK_RE, storedRecord, tryBuild } from './helpers.js'

const servers = inject('s3servers')
const fx = fixtureCopies()
afterAll(() => fx.cleanup())

const PREFIX = 'site/'
const AGGRESSIVE = { releases: 1, minAge: 0, grace: 0 } as const
/** The radosgw user the test servers create without rights (see test/servers/rgw-start.sh). */
const RGW_DENIED_UID = 'cdn-denied'

describe.each(servers.map((s) => [s.name, s] as const))('bad publishes on %s', (name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())
  const env = (): EnvVars => credsEnv(server)
  const target = (bucket: string, extra: Record<string, unknown> = {}) => ({ bucket, prefix: PREFIX, endpoint: server.endpoint, forcePathStyle: true, ...extra })

  /** A fresh bucket holding a complete, current release A; and the app, changed to build release B. */
  async function seeded(label: string) {
    const bucket = await createBucket(admin, label)
    const root = fx.copy()
    const a = expectOk(await withEnv(env(), () => tryBuild('vite8', root, { publish: target(bucket), retention: false })))
    await expectCurrent(admin, bucket, PREFIX, a)
    appendFileSync(path.join(root, 'public/img/logo.png'), Buffer.from('release B'))
    return { bucket, root, a, before: await bucketState(admin, bucket) }
  }

  /** A publish of release B that must fail before writing anything: the bucket is exactly as before. */
  async function failsWithoutWriting(s: Awaited<ReturnType<typeof seeded>>, vars: EnvVars, publish: Record<string, unknown> = {}) {
    const o = await withEnv(vars, () => tryBuild('vite8', s.root, { publish: target(s.bucket, publish), retention: AGGRESSIVE }))
    const error = expectFailed(o)
    expect(String(error.stack ?? ''), 'no stack trace').not.toMatch(STACK_RE)
    expect(await bucketState(admin, s.bucket)).toEqual(s.before)
    await expectCurrent(admin, s.bucket, PREFIX, s.a)
    return error
  }

  test('missing credentials: CREDENTIALS_MISSING naming the ways to provide them; nothing written', async () => {
    const s = await seeded('nocreds')
    const error = await failsWithoutWriting(s, { AWS_REGION: server.region })
    expect(error.pluginCode).toBe('CREDENTIALS_MISSING')
    expect(error.message).toContain(`s3://${s.bucket}`)
    for (const way of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE']) expect(error.message).toContain(way)
  })

  test('only an access key id, no secret: CREDENTIALS_MISSING; nothing written', async () => {
    const s = await seeded('halfcreds')
    const error = await failsWithoutWriting(s, { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_REGION: server.region })
    expect(error.pluginCode).toBe('CREDENTIALS_MISSING')
  })

  // Neither local server checks the region of a SigV4 signature's credential scope: radosgw runs
  // a single zonegroup and accepts any region name, s3rver does not verify signatures at all. So
  // a wrong region publishes normally here (on AWS it would be a redirect the SDK reports). What
  // must hold everywhere: the publish ends, coded or complete, and never hangs.
  test.each([
    ['AWS_REGION eu-central-1 in the environment', { AWS_REGION: 'eu-central-1' }, {}, 'region eu-central-1 (env AWS_REGION)'],
    ['publish.region ap-southeast-2 as an option', {}, { region: 'ap-southeast-2' }, 'region ap-southeast-2 (option)'],
  ])('a wrong region (%s): the local servers accept it, the release is published in full, no hang', async (_what, vars, publish, shown) => {
    const s = await seeded('region')
    const t0 = performance.now()
    const o = await withEnv({ ...env(), ...vars }, () => tryBuild('vite8', s.root, { publish: target(s.bucket, publish), retention: false }))
    expect(performance.now() - t0, 'the publish ends promptly').toBeLessThan(30_000)
    const b = expectOk(o)
    expect(o.logs.text()).toContain(shown)
    await expectCurrent(admin, s.bucket, PREFIX, b)
    // nothing of release A went missing (retention is off; mutable files were overwritten by B)
    const keys = new Set((await bucketState(admin, s.bucket)).map((x) => x.key))
    for (const x of s.before) expect(keys.has(x.key), x.key).toBe(true)
  })

  test('a bucket that does not exist: BUCKET_NOT_FOUND naming bucket and endpoint; it is not created', async () => {
    const s = await seeded('nobucket')
    const missing = `${s.bucket}-missing`
    const o = await withEnv(env(), () => tryBuild('vite8', s.root, { publish: target(missing), retention: AGGRESSIVE }))
    const error = expectFailed(o)
    expect(error.pluginCode).toBe('BUCKET_NOT_FOUND')
    expect(error.message).toContain(`"${missing}"`)
    expect(error.message).toContain(server.endpoint)
    expect(error.message).toContain('Nothing was written')
    const head = await admin.send(new HeadBucketCommand({ Bucket: missing })).then(
      () => 'exists',
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
    )
    expect(head).toBe(404)
    // the seeded bucket next to it is untouched
    expect(await bucketState(admin, s.bucket)).toEqual(s.before)
  })

  // radosgw: a second user that has no rights on the first user's bucket. s3rver has a single
  // account and no permissions: an access key id it does not know is the only refusal it makes.
  test(`credentials without rights (${server.deniedUser ? 'radosgw’s second user' : 'an access key id s3rver does not know'}): ACCESS_DENIED naming the operation and IAM actions; nothing written`, async () => {
    const s = await seeded('denied')
    const creds = server.deniedUser ?? { accessKeyId: 'AKIAUNKNOWN0000000000', secretAccessKey: 'unknown-secret-unknown-secret-unknown-00' }
    const error = await failsWithoutWriting(s, credsEnv(server, creds))
    expect(error.pluginCode).toBe('ACCESS_DENIED')
    expect(error.message).toMatch(new RegExp(`^list of s3://${s.bucket}/${PREFIX} at `))
    for (const action of ['s3:ListBucket', 's3:GetObject', 's3:PutObject']) expect(error.message).toContain(action)
    if (!server.deniedUser) expect(error.message).toContain('does not know this access key id')
    expect(error.message).not.toContain(creds.secretAccessKey)
  })

  // radosgw verifies signatures: a wrong secret is SignatureDoesNotMatch. s3rver does not verify
  // SigV4 signatures at all (any secret of its one access key is accepted), so there the publish
  // goes through; that is asserted as what is true of s3rver, not as what the plugin should do.
  test(`a wrong secret key: ${name === 'radosgw' ? 'ACCESS_DENIED (signature mismatch), nothing written' : 's3rver does not check signatures: published'}`, async () => {
    const s = await seeded('badsecret')
    const wrong = 'wrong-secret-wrong-secret-wrong-secret-0'
    if (name === 'radosgw') {
      const error = await failsWithoutWriting(s, { ...env(), AWS_SECRET_ACCESS_KEY: wrong })
      expect(error.pluginCode).toBe('ACCESS_DENIED')
      expect(error.message).toContain('signature does not match')
      expect(error.message).toContain('AWS_SECRET_ACCESS_KEY')
      expect(error.message).not.toContain(wrong)
    } else {
      const b = expectOk(await withEnv({ ...env(), AWS_SECRET_ACCESS_KEY: wrong }, () => tryBuild('vite8', s.root, { publish: target(s.bucket), retention: false })))
      await expectCurrent(admin, s.bucket, PREFIX, b)
    }
  })

  if (server.deniedUser) {
    const denied = server.deniedUser
    const policy = (bucket: string, actions: string[]) =>
      admin.send(
        new PutBucketPolicyCommand({
          Bucket: bucket,
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { AWS: [`arn:aws:iam:::user/${RGW_DENIED_UID}`] }, Action: actions, Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] },
            ],
          }),
        }),
      )

    test('read-only rights (a bucket policy allows List and Get only): ACCESS_DENIED on the first put, naming key and s3:PutObject; nothing written', async () => {
      const s = await seeded('readonly')
      await policy(s.bucket, ['s3:ListBucket', 's3:GetObject'])
      const error = await failsWithoutWriting(s, credsEnv(server, denied))
      expect(error.pluginCode).toBe('ACCESS_DENIED')
      expect(error.message).toMatch(new RegExp(`^put of s3://${s.bucket}/${PREFIX}\\.cdn-publish/releases/[0-9a-f]{16}\\.json at `))
      expect(error.message).toContain('s3:PutObject')
      expect(error.message).toContain(`release ${s.a.manifest!.release} is still served`)
    })

    test('rights to publish but not to delete: the publish stands, the prune warns PRUNE_FAILED, nothing of release A is deleted', async () => {
      const s = await seeded('nodelete')
      await policy(s.bucket, ['s3:ListBucket', 's3:GetObject', 's3:PutObject'])
      const o = await withEnv(credsEnv(server, denied), () => tryBuild('vite8', s.root, { publish: target(s.bucket), retention: AGGRESSIVE }))
      const b = expectOk(o, ['PRUNE_FAILED'])
      // objects belong to the user who wrote them (radosgw, like S3 with ObjectWriter ownership):
      // the second user reads both its own and, through the policy, the owner's
      const reader = adminClient({ ...server, ...denied })
      try {
        await expectCurrent(reader, s.bucket, PREFIX, b)
        for (const k of s.before.map((x) => x.key)) expect(await objectExists(reader, s.bucket, k), k).toBe(true)
      } finally {
        reader.destroy()
      }
    })
  }

  // -------------------------------------------------------------------------------------------
  // the output directory changed between the build and `cdn-publish publish`

  /** Release A published; release B built (no bucket) and its output then damaged by `damage`. */
  async function cliDamaged(label: string, damage: (b: BuildResult) => string) {
    const s = await seeded(label)
    const b = expectOk(await withEnv({}, () => tryBuild('vite8', s.root, { publish: false })))
    expect(b.manifest!.release).not.toBe(s.a.manifest!.release)
    const named = damage(b)
    const r = await runCli(['publish', b.outDir, '--bucket', s.bucket, '--prefix', PREFIX, '--endpoint', server.endpoint, '--force-path-style', '--releases', '1', '--min-age', '0', '--grace', '0'], cliEnv(env()), { cwd: s.root })
    expect(r.code, `exit code\n${r.stderr}`).toBe(1)
    expect(r.stderr).toContain('error [PUBLISH_FAILED]')
    expect(r.stderr).toContain(named)
    expect(r.stderr).not.toMatch(STACK_RE)
    // nothing switched: release A is complete and current, B is not current
    await expectCurrent(admin, s.bucket, PREFIX, s.a)
    const rec = await storedRecord(admin, s.bucket, PREFIX, s.a.manifest!.release)
    expect(rec.state).toBe('current')
    const report = readReport(s.root)
    expect(report).toMatchObject({ ok: false, error: { code: 'PUBLISH_FAILED' } })
    return { ...s, b }
  }

  test('CLI: a published file edited after the build, same size: PUBLISH_FAILED naming it; nothing switched, A intact', async () => {
    const s = await cliDamaged('edited', (b) => {
      const logo = b.find(/^img\/logo-[\w-]{8}\.png$/)
      const file = path.join(b.outDir, logo)
      const bytes = readFileSync(file)
      bytes[bytes.length - 1] ^= 0xff
      writeFileSync(file, bytes)
      return logo
    })
    // the damaged bytes never reached the bucket under B's name
    const logo = s.b.find(/^img\/logo-[\w-]{8}\.png$/)
    expect(await objectExists(admin, s.bucket, PREFIX + logo)).toBe(false)
    // whatever B wrote before it stopped is pending, never current
    const recB = recordKey(PREFIX, s.b.manifest!.release)
    if (await objectExists(admin, s.bucket, recB)) expect((await storedRecord(admin, s.bucket, PREFIX, s.b.manifest!.release)).state).toBe('pending')
    expectSuperset(await bucketState(admin, s.bucket), s.before)
  })

  test('CLI: a published file grown after the build: PUBLISH_FAILED naming it with both sizes; nothing written', async () => {
    const s = await cliDamaged('grown', (b) => {
      const css = b.find(/^assets\/index-[\w-]{8}\.css$/)
      appendFileSync(path.join(b.outDir, css), '\n.late { color: red }\n')
      return css
    })
    expect(await bucketState(admin, s.bucket)).toEqual(s.before)
  })

  test('CLI: a published file deleted after the build: PUBLISH_FAILED naming it (missing); nothing written', async () => {
    const s = await cliDamaged('deleted', (b) => {
      rmSync(path.join(b.outDir, 'robots.txt'))
      return 'robots.txt (missing)'
    })
    expect(await bucketState(admin, s.bucket)).toEqual(s.before)
  })

  test('CLI: the manifest itself overwritten with garbage after the build: PUBLISH_FAILED naming it; nothing written', async () => {
    const s = await cliDamaged('badmanifest', (b) => {
      writeFileSync(path.join(b.outDir, 'cdn-manifest.json'), '{"version": 1, "release": ')
      return 'cdn-manifest.json is not valid JSON'
    })
    expect(await bucketState(admin, s.bucket)).toEqual(s.before)
  })

  // -------------------------------------------------------------------------------------------
  // an empty prefix with retention on

  test.each([
    ['an empty prefix', ''],
    ["prefix '/'", '/'],
  ])('%s with retention on: publishes, skips pruning with an explanation, deletes nothing', async (_what, prefix) => {
    const bucket = await createBucket(admin, 'rootprefix')
    await putObject(admin, bucket, 'someone-else/data.json', '{"not":"ours"}')
    const root = fx.copy()
    const a = expectOk(await withEnv(env(), () => tryBuild('vite8', root, { publish: target(bucket, { prefix }), retention: false })))
    appendFileSync(path.join(root, 'public/img/logo.png'), Buffer.from('release B'))
    const before = await bucketState(admin, bucket)
    const o = await withEnv(env(), () => tryBuild('vite8', root, { publish: target(bucket, { prefix }), retention: AGGRESSIVE }))
    const b = expectOk(o)
    await expectCurrent(admin, bucket, '', b)
    expect(o.logs.text()).toContain('pruning skipped: the prefix is empty')
    expect(o.logs.text()).toContain('allowRootPrefix: true')
    const report = b.report<PublishReport & { prune?: { skipped?: string; deleted: string[] } }>()
    expect(report.prune?.skipped).toMatch(/prefix is empty/)
    expect(report.prune?.deleted).toEqual([])
    // everything that was there is still there: release A (expired by the policy) and the foreign object
    const after = await bucketState(admin, bucket)
    for (const k of [...(await releaseKeys(admin, bucket, '', a)), 'someone-else/data.json']) expect(after.some((x) => x.key === k), k).toBe(true)
    expect(after.length).toBeGreaterThanOrEqual(before.length)
  })

  test('an empty prefix with retention.allowRootPrefix: true prunes the expired release and keeps foreign objects', async () => {
    const bucket = await createBucket(admin, 'rootallow')
    await putObject(admin, bucket, 'someone-else/data.json', '{"not":"ours"}')
    const root = fx.copy()
    const a = expectOk(await withEnv(env(), () => tryBuild('vite8', root, { publish: target(bucket, { prefix: '' }), retention: false })))
    const logoA = a.find(/^img\/logo-[\w-]{8}\.png$/)
    appendFileSync(path.join(root, 'public/img/logo.png'), Buffer.from('release B'))
    const o = await withEnv(env(), () => tryBuild('vite8', root, { publish: target(bucket, { prefix: '' }), retention: { ...AGGRESSIVE, allowRootPrefix: true } }))
    const b = expectOk(o)
    await expectCurrent(admin, bucket, '', b)
    const report = b.report<PublishReport & { prune?: { skipped?: string; releases: { deleted: string[] } } }>()
    expect(report.prune?.skipped).toBeUndefined()
    expect(report.prune?.releases.deleted).toEqual([a.manifest!.release])
    expect(await objectExists(admin, bucket, logoA)).toBe(false)
    expect(await objectExists(admin, bucket, 'someone-else/data.json')).toBe(true)
  })
})
