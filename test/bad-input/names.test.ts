/**
 * Bad input, file names: public files whose names need care in URLs and object keys (unicode,
 * spaces, `%`, `+`, `#`, an empty file, two names that differ only in case), referenced from CSS
 * and published by real Vite builds to both S3 test servers. Keys must be exactly the manifest's
 * paths (never percent-encoded, never case-folded), with the build's bytes; the rewritten CSS
 * must name the fingerprinted copy in a form the browser decodes back to that path.
 */
import { copyFileSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs'
import path from 'node:path'
import type { S3Client } from '@aws-sdk/client-s3'
import { afterAll, describe, expect, inject, test } from 'vitest'
import { findCssRefs, splitUrlSuffix } from '../../src/build/css-urls.js'
import type { PublishReport } from '../../src/publish/report.js'
import { fixtureCopies, type BuildResult } from '../helpers/build.js'
import { md5hex } from '../helpers/digest.js'
import { adminClient, createBucket, credsEnv, listAll, readObject, withEnv } from '../helpers/s3.js'
import { expectCurrent, expectOk, releaseKeys, tryBuild } from './helpers.js'

const servers = inject('s3servers')
const fx = fixtureCopies()
afterAll(() => fx.cleanup())

const PREFIX = 'site/'
const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e'

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The fingerprinted copy of public file `name` in the manifest: `<stem>-<hash><ext>`. */
function fingerprintedOf(r: BuildResult, name: string): string {
  const dot = name.lastIndexOf('.')
  const re = new RegExp(`^${escapeRe(name.slice(0, dot))}-[\\w-]{8}${escapeRe(name.slice(dot))}$`)
  const hits = Object.keys(r.manifest!.files).filter((p) => re.test(p))
  expect(hits, `one fingerprinted copy of ${name}`).toHaveLength(1)
  return hits[0]
}

/** Paths (decoded, as the browser requests them) that the built stylesheets reference. */
function cssTargets(r: BuildResult): string[] {
  const out: string[] = []
  for (const [f, bytes] of r.files) {
    if (!f.endsWith('.css')) continue
    for (const ref of findCssRefs(bytes.toString('utf8'))) {
      const p = splitUrlSuffix(ref.url).path
      try {
        out.push(decodeURIComponent(p))
      } catch {
        out.push(`undecodable:${p}`)
      }
    }
  }
  return out
}

/**
 * The keys of a bucket after a first publish of `r` under PREFIX, split in two: the site's own
 * (exactly the manifest's paths and the stable manifest) and the plugin's (under .cdn-publish/).
 */
function siteKeys(keys: string[]): string[] {
  return keys.filter((k) => !k.startsWith(`${PREFIX}.cdn-publish/`)).sort()
}
const expectedSiteKeys = (r: BuildResult) => [...Object.keys(r.manifest!.files).map((p) => PREFIX + p), `${PREFIX}cdn-manifest.json`].sort()

/** The bucket holds exactly the site's paths and the release's own objects, nothing else. */
async function expectExactly(admin: S3Client, bucket: string, r: BuildResult) {
  const keys = (await listAll(admin, bucket)).map((o) => o.key)
  expect(siteKeys(keys)).toEqual(expectedSiteKeys(r))
  const meta = keys.filter((k) => k.startsWith(`${PREFIX}.cdn-publish/`)).sort()
  const own = (await releaseKeys(admin, bucket, PREFIX, r)).filter((k) => k.startsWith(`${PREFIX}.cdn-publish/`))
  expect(meta).toEqual(own)
}

describe.each(servers.map((s) => [s.name, s] as const))('file names on %s', (_name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())

  /** Build and publish; `warnings`: the codes of every warning the build must report. */
  async function publish(root: string, bucket: string, warnings: string[] = []) {
    const o = await withEnv(credsEnv(server), () => tryBuild('vite8', root, { publish: { bucket, prefix: PREFIX, endpoint: server.endpoint, forcePathStyle: true } }))
    const result = expectOk(o, warnings)
    const report = result.report()
    expect(report.ok).toBe(true)
    return { result, report, logs: o.logs }
  }

  // [what, file under public/, the url() as written in CSS (encoded where a URL must encode)]
  test.each([
    ['unicode', 'img/ünïcödé-日本語.png', '/img/ünïcödé-日本語.png'],
    ['spaces', 'img/two  spaces here.png', '/img/two  spaces here.png'],
    ['a percent sign', 'img/100%.png', '/img/100%25.png'],
    ['a plus sign', 'img/a+b.png', '/img/a+b.png'],
    ['a hash sign', 'img/c#1.png', '/img/c%231.png'],
    ['all of them at once', 'img/ü 50%+#x.png', '/img/ü 50%25+%23x.png'],
  ])('%s in a public file name referenced from CSS: keys round-trip exactly, bytes match', async (_what, name, cssUrl) => {
    const bucket = await createBucket(admin, 'names')
    const root = fx.copy()
    const file = path.join(root, 'public', name)
    copyFileSync(path.join(root, 'public/img/logo.png'), file)
    appendFileSync(file, `bytes of ${name}`)
    appendFileSync(path.join(root, 'src/style.css'), `\n.special { background: url("${cssUrl}"); }\n`)

    const { result } = await publish(root, bucket)
    const m = result.manifest!
    expect(m.files[name], `${name} (plain copy) in the manifest`).toBeDefined()
    const hashed = fingerprintedOf(result, name)
    expect(m.aliases[name]).toBe(hashed)
    expect(m.files[hashed]).toMatchObject({ immutable: true, size: readFileSync(file).length })
    // the stylesheet names the fingerprinted copy, and no longer the plain one
    const targets = cssTargets(result)
    expect(targets).toContain(`/${hashed}`)
    expect(targets).not.toContain(`/${name}`)

    // the bucket holds exactly the manifest's paths (plus the plugin's own objects), byte for byte
    await expectExactly(admin, bucket, result)
    for (const p of [name, hashed]) {
      const back = await readObject(admin, bucket, PREFIX + p)
      expect(back.bytes.equals(readFileSync(file)), `${p} bytes`).toBe(true)
      expect(back.contentType).toBe('image/png')
    }
    await expectCurrent(admin, bucket, PREFIX, result)
  })

  test('zero-byte files (plain and fingerprinted) publish as size 0 and exist; a re-publish sends nothing', async () => {
    const bucket = await createBucket(admin, 'empty')
    const root = fx.copy()
    writeFileSync(path.join(root, 'public/empty.txt'), '')
    writeFileSync(path.join(root, 'public/img/empty.png'), '')
    appendFileSync(path.join(root, 'src/style.css'), '\n.empty { background: url(/img/empty.png); }\n')

    const { result } = await publish(root, bucket)
    const m = result.manifest!
    const hashed = fingerprintedOf(result, 'img/empty.png')
    for (const p of ['empty.txt', 'img/empty.png', hashed]) expect(m.files[p]?.size, p).toBe(0)
    const listed = new Map((await listAll(admin, bucket)).map((o) => [o.key, o]))
    for (const p of ['empty.txt', 'img/empty.png', hashed]) {
      const o = listed.get(PREFIX + p)
      expect(o, `${PREFIX + p} exists`).toBeDefined()
      expect(o!.size).toBe(0)
      expect(o!.etag.replace(/"/g, '')).toBe(EMPTY_MD5)
      expect((await readObject(admin, bucket, PREFIX + p)).bytes.length).toBe(0)
    }
    await expectExactly(admin, bucket, result)

    const again = await publish(root, bucket)
    expect(again.report.uploaded).toEqual([])
    expect(again.report.skipped.map((f) => f.path)).toEqual(expect.arrayContaining(['empty.txt', 'img/empty.png', hashed]))
  })

  // With identical bytes the two fingerprinted copies differ only in case too: the bundler, which
  // compares emitted names case-insensitively, warns FILE_NAME_CONFLICT (both are written).
  test.each([
    ['different bytes', (logo: Buffer) => Buffer.concat([logo, Buffer.from('capital L')]), []],
    ['identical bytes', (logo: Buffer) => logo, ['FILE_NAME_CONFLICT']],
  ])('public/Logo.png and public/logo.png (names differing only in case, %s): both listed, both land', async (_what, bytesOf, warnings) => {
    const bucket = await createBucket(admin, 'case')
    const root = fx.copy()
    const lower = readFileSync(path.join(root, 'public/img/logo.png'))
    const upper = bytesOf(lower)
    writeFileSync(path.join(root, 'public/img/Logo.png'), upper)
    appendFileSync(path.join(root, 'src/style.css'), '\n.upper { background: url(/img/Logo.png); }\n')

    const { result } = await publish(root, bucket, warnings)
    const m = result.manifest!
    const hashedLower = fingerprintedOf(result, 'img/logo.png')
    const hashedUpper = fingerprintedOf(result, 'img/Logo.png')
    expect(hashedUpper).not.toBe(hashedLower)
    for (const p of ['img/logo.png', 'img/Logo.png', hashedLower, hashedUpper]) expect(m.files[p], p).toBeDefined()
    expect(cssTargets(result)).toEqual(expect.arrayContaining([`/${hashedLower}`, `/${hashedUpper}`]))

    await expectExactly(admin, bucket, result)
    for (const [p, bytes] of [['img/logo.png', lower], [hashedLower, lower], ['img/Logo.png', upper], [hashedUpper, upper]] as const) {
      const back = await readObject(admin, bucket, PREFIX + p)
      expect(back.bytes.equals(bytes), `${p} bytes`).toBe(true)
      expect(md5hex(back.bytes)).toBe(md5hex(bytes))
    }
  })
})
