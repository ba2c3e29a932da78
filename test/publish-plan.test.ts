/**
 * Pure parts of publishing: the glob matcher, option resolution, headers and the publish plan,
 * with in-memory listings (the network side is proven in publish.test.ts against real servers).
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { ManifestFile } from '../src/build/manifest-types.js'
import { CdnPublishError } from '../src/errors.js'
import { resolvePublishOptions } from '../src/options/publish.js'
import { compileGlob, normalizePrefix } from '../src/options/validate.js'
import { type PublishOptions } from '../src/options/types.js'
import {
  headersHash,
  localFiles,
  manifestFile,
  planHeaders,
  planPublish,
  previousRelease,
  releaseRecord,
  settleVerified,
  type LocalFile,
  type PlanInput,
  type StoredDigest,
} from '../src/publish/plan.js'
import { formatBytes, Progress } from '../src/log.js'
import type { ReleaseRecord } from '../src/bucket/record.js'
import type { StoredObject } from '../src/bucket/store.js'

// ---------------------------------------------------------------------------------------------

describe('compileGlob', () => {
  const cases: [string, string[], string[]][] = [
    // a pattern without '/' matches top-level paths only; dotfiles match like other files
    ['*.png', ['a.png', '.png'], ['img/a.png', 'a.pngx', 'a.jpg']],
    ['**/*.png', ['a.png', 'img/a.png', 'a/b/c.png', '.cache/a.png'], ['a.jpg', 'img/a.png/x']],
    // picomatch: 'dir/**' matches the name 'dir' itself too
    ['img/**', ['img/a', 'img/a/b.png', 'img'], ['imgx/a', 'x/img/a']],
    ['assets/**/x.js', ['assets/x.js', 'assets/a/b/x.js'], ['assets/ax.js', 'x.js']],
    ['.well-known/**', ['.well-known/security.txt'], ['well-known/security.txt']],
    ['?.js', ['a.js'], ['ab.js', '/.js']],
    ['**/*.{js,css}', ['a.js', 'd/a.css'], ['a.map', 'a.jsx']],
    ['{img,fonts}/**/*.{png,woff{,2}}', ['img/a.png', 'fonts/f.woff', 'fonts/x/f.woff2'], ['img/a.jpg', 'css/a.png']],
    // character classes and extglobs
    ['**/*.[jt]s', ['a.js', 'src/b.ts', 'a/b/c.js'], ['a.cs', 'a.jts', 'a.ts.map', 'a.js/x']],
    ['**/*.[^m]js', ['a.cjs', 'd/a.cjs'], ['a.mjs', 'a.js']],
    ['!(*.map)', ['a.js', 'a.map.js', '.env'], ['a.js.map', 'a.map', 'd/a.js']],
    ['**/!(*.map)', ['a.js', 'd/a.css', 'd/e/f.html'], ['a.js.map', 'd/a.css.map']],
    ['**/*.+(js|mjs)', ['a.js', 'd/a.mjs'], ['a.cjs', 'a.json', 'a.jsmjs.map']],
    ['**/*.@(png|jpg)', ['a.png', 'd/a.jpg'], ['a.jpeg', 'a.pngjpg']],
    ['*.?(m)js', ['a.js', 'a.mjs'], ['a.cjs', 'a.mmjs']],
    ['!**/*.map', ['a.js', 'd/a.css'], ['a.js.map', 'd/a.map']],
    // a leading '/' or './' is ignored
    ['/robots.txt', ['robots.txt'], ['a/robots.txt']],
    ['./index.html', ['index.html'], ['x/index.html']],
    ['a\\*b', ['a*b'], ['axb']],
    ['\\[x\\].txt', ['[x].txt'], ['x.txt']],
    ['ünï cödé *.png', ['ünï cödé file.png'], ['unicode file.png']],
  ]
  test.each(cases)('%s', (glob, yes, no) => {
    const m = compileGlob(glob)
    for (const p of yes) expect(m(p), `${glob} matches ${p}`).toBe(true)
    for (const p of no) expect(m(p), `${glob} does not match ${p}`).toBe(false)
  })

  const malformed: [string, string][] = [
    ['{a,b', 'has a "{" without a matching "}": close it, or write "\\{" for a literal "{"'],
    ['**/*.{js,css', 'has a "{" without a matching "}": close it, or write "\\{" for a literal "{"'],
    ['a}', 'has a "}" without a matching "{": write "\\}" for a literal "}"'],
    ['*.[jt', 'has a "[" without a matching "]": close it, or write "\\[" for a literal "["'],
    ['a]', 'has a "]" without a matching "[": write "\\]" for a literal "]"'],
    ['!(*.map', 'has a "(" without a matching ")": close it, or write "\\(" for a literal "("'],
    ['**/*.+(js|mjs', 'has a "(" without a matching ")": close it, or write "\\(" for a literal "("'],
    ['a)', 'has a ")" without a matching "(": write "\\)" for a literal ")"'],
    ['a\\', 'ends with a lone "\\": remove it, or write "\\\\" for a literal "\\"'],
  ]
  test.each(malformed)('malformed: %s', (glob, message) => {
    expect(() => compileGlob(glob)).toThrow(new Error(message))
  })

  test('escaped brackets, braces and parentheses are literal, not malformed', () => {
    for (const glob of ['a\\}', 'a\\]', 'a\\)', 'a\\{b', 'a\\\\']) {
      expect(compileGlob(glob)(glob.replace(/\\(.)/g, '$1')), glob).toBe(true)
    }
  })

  test('a literal path matches itself and nothing else', () => {
    // no character picomatch gives a meaning to: * ? [ ] { } ( ) ! + @ \
    const literal = fc.stringMatching(/^[a-zA-Z0-9 ._$^,=~-]{1,12}(\/[a-zA-Z0-9 ._$^,=~-]{1,12}){0,3}$/)
    fc.assert(
      fc.property(literal, literal, (a, b) => {
        const m = compileGlob(a.replace(/^\.?\/+/, 'x'))
        expect(m(a.replace(/^\.?\/+/, 'x'))).toBe(true)
        if (a !== b) expect(m(b.replace(/^\.?\/+/, 'x'))).toBe(a.replace(/^\.?\/+/, 'x') === b.replace(/^\.?\/+/, 'x'))
      }),
    )
  })
})

// ---------------------------------------------------------------------------------------------

describe('resolvePublishOptions', () => {
  const resolve = (o: PublishOptions | undefined, env: Record<string, string> = {}, files: Record<string, string> = {}, label?: string) =>
    resolvePublishOptions(o, { process: env, files }, label)

  test('defaults', () => {
    const r = resolve({})
    expect(r).toMatchObject({
      bucket: undefined,
      prefix: '',
      region: undefined,
      endpoint: undefined,
      forcePathStyle: false,
      concurrency: 32,
      dryRun: false,
      label: undefined,
      cacheControl: { immutable: 'public, max-age=31536000, immutable', mutable: 'no-cache' },
      headers: [],
      sourcemaps: 'publish',
      precompress: false,
      checksums: 'WHEN_REQUIRED',
    })
    expect(Object.values(r.sources).every((s) => s === 'default')).toBe(true)
  })

  test('precedence: option > real environment > .env files > default, with the source of each value', () => {
    const env = { CDN_PUBLISH_BUCKET: 'env-bucket', AWS_REGION: 'eu-west-1', CDN_PUBLISH_DRY_RUN: 'yes' }
    const files = { CDN_PUBLISH_BUCKET: 'file-bucket', CDN_PUBLISH_PREFIX: 'from/file', AWS_ENDPOINT_URL_S3: 'http://10.0.0.1:9000' }
    const r = resolve({ region: 'us-west-2' }, env, files)
    expect(r.bucket).toBe('env-bucket')
    expect(r.sources.bucket).toBe('env CDN_PUBLISH_BUCKET')
    expect(r.region).toBe('us-west-2')
    expect(r.sources.region).toBe('option')
    expect(r.prefix).toBe('from/file/')
    expect(r.sources.prefix).toBe('.env file CDN_PUBLISH_PREFIX')
    expect(r.endpoint).toBe('http://10.0.0.1:9000')
    expect(r.sources.endpoint).toBe('.env file AWS_ENDPOINT_URL_S3')
    expect(r.forcePathStyle).toBe(true)
    expect(r.sources.forcePathStyle).toBe('default for a local endpoint')
    expect(r.dryRun).toBe(true)
    expect(r.sources.dryRun).toBe('env CDN_PUBLISH_DRY_RUN')
    expect(resolve({ bucket: 'opt-bucket' }, env, files).sources.bucket).toBe('option')
  })

  test('CDN_PUBLISH_REGION before AWS_REGION; CDN_PUBLISH_ENDPOINT before AWS_ENDPOINT_URL_S3 before AWS_ENDPOINT_URL', () => {
    expect(resolve({}, { AWS_REGION: 'a', CDN_PUBLISH_REGION: 'b' }).region).toBe('b')
    expect(resolve({}, { AWS_REGION: 'a' }).sources.region).toBe('env AWS_REGION')
    expect(resolve({}, { AWS_ENDPOINT_URL: 'https://x.example', AWS_ENDPOINT_URL_S3: 'https://y.example' }).endpoint).toBe('https://y.example')
    expect(resolve({}, { AWS_ENDPOINT_URL: 'https://x.example' }).sources.endpoint).toBe('env AWS_ENDPOINT_URL')
    expect(resolve({}, { AWS_ENDPOINT_URL_S3: 'https://y.example', CDN_PUBLISH_ENDPOINT: 'https://z.example/' }).endpoint).toBe('https://z.example')
  })

  test('an empty variable counts as unset; a real variable set to empty hides the .env file', () => {
    expect(resolve({}, { CDN_PUBLISH_BUCKET: '' }).bucket).toBeUndefined()
    expect(resolve({}, { CDN_PUBLISH_BUCKET: '' }, { CDN_PUBLISH_BUCKET: 'file-b' }).bucket).toBeUndefined()
  })

  test('label: publish.label > top-level label option > CDN_PUBLISH_LABEL', () => {
    expect(resolve({ label: 'a' }, { CDN_PUBLISH_LABEL: 'env' }, {}, 'top')).toMatchObject({ label: 'a', sources: { label: 'option' } })
    expect(resolve({}, { CDN_PUBLISH_LABEL: 'env' }, {}, 'top')).toMatchObject({ label: 'top', sources: { label: 'option label' } })
    // the top-level label is CDN_PUBLISH_LABEL itself when no option set it
    expect(resolve({}, { CDN_PUBLISH_LABEL: 'env' }, {}, 'env')).toMatchObject({ label: 'env', sources: { label: 'env CDN_PUBLISH_LABEL' } })
    expect(resolve({}, {}, { CDN_PUBLISH_LABEL: 'file' })).toMatchObject({ label: 'file', sources: { label: '.env file CDN_PUBLISH_LABEL' } })
  })

  test('prefix normalisation', () => {
    expect(normalizePrefix('')).toBe('')
    expect(normalizePrefix('/')).toBe('')
    expect(normalizePrefix('site')).toBe('site/')
    expect(normalizePrefix('/site/v2/')).toBe('site/v2/')
    expect(normalizePrefix('ü prefix')).toBe('ü prefix/')
    for (const bad of ['a//b', 'a/../b', './a', 'a\\b', '..']) expect(normalizePrefix(bad), bad).toBeUndefined()
  })

  test('forcePathStyle defaults to true for IP and localhost endpoints only', () => {
    expect(resolve({ endpoint: 'http://localhost:9000' }).forcePathStyle).toBe(true)
    expect(resolve({ endpoint: 'http://[::1]:9000' }).forcePathStyle).toBe(true)
    expect(resolve({ endpoint: 'https://abc.r2.cloudflarestorage.com' }).forcePathStyle).toBe(false)
    expect(resolve({ endpoint: 'http://localhost:9000', forcePathStyle: false }).forcePathStyle).toBe(false)
    expect(resolve({}, { CDN_PUBLISH_FORCE_PATH_STYLE: 'off' }).sources.forcePathStyle).toBe('env CDN_PUBLISH_FORCE_PATH_STYLE')
  })

  test('precompress and headers are compiled', () => {
    const r = resolve({
      precompress: { encoding: 'br', include: ['**/*.js'] },
      headers: [{ match: '**/*.woff2', headers: { 'Cache-Control': 'x', 'X-Amz-Meta-Team': 'web' } }],
    })
    expect(r.precompress && r.precompress.encoding).toBe('br')
    expect(r.precompress && r.precompress.matchers[0]('a/b.js')).toBe(true)
    expect(r.headers[0].headers).toEqual({ 'cache-control': 'x', 'x-amz-meta-team': 'web' })
    expect(resolve({ precompress: 'gzip' }).precompress).toMatchObject({ encoding: 'gzip' })
  })

  test('a malformed glob is INVALID_OPTION naming the option, the pattern and the fix', () => {
    const rule = (match: string | string[]) => ({ match, headers: { 'cache-control': 'x' } })
    const cases: [PublishOptions, string][] = [
      [
        { headers: [rule('*.png'), rule('**/*.woff2'), rule('**/*.{js,css')] },
        'Invalid option `publish.headers[2].match`: expected globs in picomatch syntax such as \'**/*.{js,css}\', ' +
          'got "**/*.{js,css", which has a "{" without a matching "}": close it, or write "\\{" for a literal "{".',
      ],
      [
        { headers: [rule(['**/*.png', '!(*.map'])] },
        'Invalid option `publish.headers[0].match`: expected globs in picomatch syntax such as \'**/*.{js,css}\', ' +
          'got "!(*.map", which has a "(" without a matching ")": close it, or write "\\(" for a literal "(".',
      ],
      [
        { precompress: { encoding: 'gzip', include: ['**/*.js', 'a}'] } },
        'Invalid option `publish.precompress.include`: expected globs in picomatch syntax such as \'**/*.{js,css}\', ' +
          'got "a}", which has a "}" without a matching "{": write "\\}" for a literal "}".',
      ],
    ]
    for (const [o, message] of cases) {
      let err: unknown
      try {
        resolve(o)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(CdnPublishError)
      expect((err as CdnPublishError).code).toBe('INVALID_OPTION')
      expect((err as CdnPublishError).message).toBe(message)
    }
  })

  const invalid: [string, PublishOptions | undefined, Record<string, string>, RegExp][] = [
    ['publish.bucket', { bucket: 'a/b' }, {}, /`publish\.bucket`: expected a bucket name/],
    ['CDN_PUBLISH_BUCKET', {}, { CDN_PUBLISH_BUCKET: 's3://b' }, /environment variable CDN_PUBLISH_BUCKET: expected a bare bucket name/],
    ['publish.prefix', { prefix: 'a/../b' }, {}, /`publish\.prefix`: expected a key prefix/],
    ['CDN_PUBLISH_PREFIX', {}, { CDN_PUBLISH_PREFIX: 'a//b' }, /CDN_PUBLISH_PREFIX: expected a key prefix/],
    ['publish.region', { region: 'eu west' }, {}, /`publish\.region`: expected a region name/],
    ['publish.endpoint', { endpoint: 'ftp://x' }, {}, /`publish\.endpoint`: expected an http\(s\) URL/],
    ['publish.endpoint query', { endpoint: 'https://x/?a=1' }, {}, /without query or fragment/],
    ['AWS_ENDPOINT_URL_S3', {}, { AWS_ENDPOINT_URL_S3: 'nope' }, /AWS_ENDPOINT_URL_S3: expected an http\(s\) URL/],
    ['publish.forcePathStyle', { forcePathStyle: 'yes' as unknown as boolean }, {}, /`publish\.forcePathStyle`: expected true or false/],
    ['CDN_PUBLISH_DRY_RUN', {}, { CDN_PUBLISH_DRY_RUN: 'perhaps' }, /CDN_PUBLISH_DRY_RUN: expected true or false/],
    ['publish.concurrency', { concurrency: 1.5 }, {}, /`publish\.concurrency`: expected an integer from 1 to 128, got 1\.5/],
    ['publish.cacheControl', { cacheControl: { immutable: 'a\nb' } }, {}, /`publish\.cacheControl\.immutable`: expected a non-empty header value on one line/],
    ['publish.cacheControl keys', { cacheControl: { html: 'x' } as never }, {}, /only the keys immutable and mutable/],
    ['publish.headers', { headers: {} as never }, {}, /`publish\.headers`: expected a list of rules/],
    ['publish.headers match', { headers: [{ match: [], headers: {} }] }, {}, /`publish\.headers\[0\]\.match`/],
    ['publish.headers name', { headers: [{ match: '*', headers: { 'bad name': 'x' } }] }, {}, /valid HTTP header names/],
    ['publish.headers checksum', { headers: [{ match: '*', headers: { 'x-amz-checksum-crc32': 'x' } }] }, {}, /sets itself/],
    ['publish.precompress.include', { precompress: { encoding: 'gzip', include: [] } }, {}, /`publish\.precompress\.include`/],
    ['publish.checksums', { checksums: 'ALWAYS' as never }, {}, /`publish\.checksums`: expected 'WHEN_REQUIRED' or 'WHEN_SUPPORTED'/],
    ['publish.credentials', { credentials: {} } as never, {}, /credentials are never options/],
    ['publish', 'x' as never, {}, /`publish`: expected an object, or false/],
  ]
  test.each(invalid)('INVALID_OPTION for %s', (_, o, env, message) => {
    let err: unknown
    try {
      resolve(o, env)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(CdnPublishError)
    expect((err as CdnPublishError).code).toBe('INVALID_OPTION')
    expect((err as CdnPublishError).message).toMatch(message)
  })
})

// ---------------------------------------------------------------------------------------------

const opts = (o: PublishOptions = {}) => resolvePublishOptions(o, { process: {} })
const png: ManifestFile = { size: 10, integrity: 'sha384-png', contentType: 'image/png', immutable: true }

describe('planHeaders', () => {
  test('content type from the manifest, cache control by immutability', () => {
    expect(planHeaders('a-x.png', png, opts()).headers).toEqual({ contentType: 'image/png', cacheControl: 'public, max-age=31536000, immutable', extra: {} })
    expect(planHeaders('index.html', { ...png, contentType: 'text/html', immutable: false }, opts()).headers.cacheControl).toBe('no-cache')
  })

  test('rules apply in order: for each header the last match wins', () => {
    const o = opts({
      headers: [
        { match: '**/*.png', headers: { 'cache-control': 'one', 'x-amz-meta-a': '1', 'content-disposition': 'inline' } },
        { match: 'img/**', headers: { 'Cache-Control': 'two', 'X-Amz-Meta-A': '2' } },
        { match: '**/*.jpg', headers: { 'cache-control': 'never' } },
      ],
    })
    expect(planHeaders('img/a.png', png, o).headers).toEqual({
      contentType: 'image/png',
      cacheControl: 'two',
      extra: { 'x-amz-meta-a': '2', 'content-disposition': 'inline' },
    })
    expect(planHeaders('b.png', png, o).headers.cacheControl).toBe('one')
  })

  test('precompression sets Content-Encoding for matching files; a rule that sets it wins', () => {
    const o = opts({ precompress: 'br', headers: [{ match: 'pre/**', headers: { 'content-encoding': 'gzip' } }] })
    const js: ManifestFile = { ...png, contentType: 'text/javascript' }
    expect(planHeaders('a.js', js, o)).toMatchObject({ encoding: 'br', headers: { contentEncoding: 'br' } })
    expect(planHeaders('a.png', png, o).encoding).toBeUndefined()
    expect(planHeaders('pre/a.js', js, o)).toEqual({
      headers: { contentType: 'text/javascript', cacheControl: 'public, max-age=31536000, immutable', contentEncoding: 'gzip', extra: {} },
    })
  })

  test('rules and precompression with character classes and extglobs apply', () => {
    const o = opts({
      precompress: { encoding: 'br', include: ['**/!(*.map)'] },
      headers: [
        { match: '**/*.[jt]s', headers: { 'x-amz-meta-kind': 'script' } },
        { match: 'assets/*.+(js|mjs)', headers: { 'cache-control': 'public, max-age=60' } },
      ],
    })
    const js: ManifestFile = { ...png, contentType: 'text/javascript' }
    expect(planHeaders('assets/a.mjs', js, o)).toEqual({
      encoding: 'br',
      headers: { contentType: 'text/javascript', cacheControl: 'public, max-age=60', contentEncoding: 'br', extra: {} },
    })
    expect(planHeaders('src/a.ts', js, o)).toEqual({
      encoding: 'br',
      headers: { contentType: 'text/javascript', cacheControl: 'public, max-age=31536000, immutable', contentEncoding: 'br', extra: { 'x-amz-meta-kind': 'script' } },
    })
    expect(planHeaders('assets/a.js.map', js, o)).toEqual({
      headers: { contentType: 'text/javascript', cacheControl: 'public, max-age=31536000, immutable', extra: {} },
    })
  })

  test('the stable manifest is never precompressed', () => {
    const m = manifestFile('cdn-manifest.json', 'p/', 100, 'sha384-m', opts({ precompress: 'gzip' }))
    expect(m).toMatchObject({ key: 'p/cdn-manifest.json', immutable: false, headers: { contentType: 'application/json; charset=utf-8', cacheControl: 'no-cache' } })
    expect(m.encoding).toBeUndefined()
  })

  test('headersHash changes with any header and ignores order', () => {
    const a = { contentType: 't', cacheControl: 'c', extra: { 'x-amz-meta-a': '1', 'x-amz-meta-b': '2' } }
    const b = { contentType: 't', cacheControl: 'c', extra: { 'x-amz-meta-b': '2', 'x-amz-meta-a': '1' } }
    expect(headersHash(a)).toBe(headersHash(b))
    expect(headersHash({ ...a, cacheControl: 'd' })).not.toBe(headersHash(a))
    expect(headersHash({ ...a, contentEncoding: 'gzip' })).not.toBe(headersHash(a))
  })
})

// ---------------------------------------------------------------------------------------------

describe('planPublish', () => {
  const manifest = {
    files: {
      'assets/app-AAAA.js': { size: 100, integrity: 'sha384-app', contentType: 'text/javascript', immutable: true },
      'assets/app-AAAA.js.map': { size: 300, integrity: 'sha384-map', contentType: 'application/json', immutable: false },
      'img/logo-BBBB.png': { size: 50, integrity: 'sha384-logo', contentType: 'image/png', immutable: true },
      'index.html': { size: 20, integrity: 'sha384-html', contentType: 'text/html', immutable: false },
    } satisfies Record<string, ManifestFile>,
  }
  const md5 = (p: string) => p.replace(/[^a-f0-9]/g, '').padEnd(32, 'a').slice(0, 32)
  const digest = (p: string): StoredDigest => ({ size: manifest.files[p as keyof typeof manifest.files].size, md5: md5(p) })
  const obj = (key: string, size: number, etag: string): StoredObject => ({ key, size, etag, lastModified: new Date(0) })
  const stored = (prefix: string, p: string) => obj(prefix + p, digest(p).size, digest(p).md5)

  function input(over: Partial<PlanInput> & { options?: PublishOptions } = {}): PlanInput {
    const { options, ...rest } = over
    const o = opts(options)
    const files = localFiles(manifest, '', o)
    const listing = rest.listing ?? []
    const digests = new Map<string, StoredDigest>()
    for (const f of files) if (listing.some((l) => l.key === f.key)) digests.set(f.path, digest(f.path))
    return {
      release: 'r2',
      prefix: '',
      label: undefined,
      files,
      manifest: manifestFile('cdn-manifest.json', '', 500, 'sha384-manifest', o),
      manifestDigest: { size: 500, md5: 'f'.repeat(32) },
      listing,
      digests,
      pointer: undefined,
      now: '2030-01-01T00:00:00.000Z',
      ...rest,
    }
  }
  const actions = (plan: ReturnType<typeof planPublish>) =>
    Object.fromEntries([...plan.immutable, ...plan.mutable, plan.manifest].map((f) => [f.path, `${f.action}: ${f.reason}`]))

  test('empty bucket: everything is uploaded, fingerprinted files first, the record written and activated', () => {
    const plan = planPublish(input())
    expect(plan.immutable.map((f) => f.path)).toEqual(['assets/app-AAAA.js', 'img/logo-BBBB.png'])
    expect(plan.mutable.map((f) => f.path)).toEqual(['assets/app-AAAA.js.map', 'index.html'])
    expect(actions(plan)).toEqual({
      'assets/app-AAAA.js': 'upload: new',
      'assets/app-AAAA.js.map': 'upload: new',
      'img/logo-BBBB.png': 'upload: new',
      'index.html': 'upload: new',
      'cdn-manifest.json': 'upload: new',
    })
    expect(plan.record).toEqual({ key: '.cdn-publish/releases/r2.json', write: true, reason: 'new release', createdAt: '2030-01-01T00:00:00.000Z' })
    expect(plan.activate.write).toBe(true)
    expect(plan.previous).toBeUndefined()
  })

  test('present, unchanged, changed and source maps skipped', () => {
    const listing = [
      stored('', 'assets/app-AAAA.js'),
      stored('', 'img/logo-BBBB.png'),
      obj('index.html', 20, 'b'.repeat(32)),
      obj('cdn-manifest.json', 400, 'c'.repeat(32)),
    ]
    const plan = planPublish(input({ listing, pointer: 'r1', options: { sourcemaps: 'skip' } }))
    expect(actions(plan)).toEqual({
      'assets/app-AAAA.js': 'skip: present',
      'assets/app-AAAA.js.map': 'skip: source map (sourcemaps: skip)',
      'img/logo-BBBB.png': 'skip: present',
      'index.html': 'upload: changed',
      'cdn-manifest.json': 'upload: changed',
    })
    expect(plan.previous).toEqual({ release: 'r1', key: '.cdn-publish/releases/r1.json', write: false, reason: 'no record' })
  })

  test('a fingerprinted key with another size and a plain MD5 ETag is a conflict; other mismatches are verified by reading', () => {
    const conflict = planPublish(input({ listing: [obj('assets/app-AAAA.js', 99, 'd'.repeat(32))] }))
    expect(conflict.immutable[0]).toMatchObject({ action: 'conflict', remote: { size: 99, etag: 'd'.repeat(32) } })
    const sameSize = planPublish(input({ listing: [obj('assets/app-AAAA.js', 100, 'd'.repeat(32))] }))
    expect(sameSize.immutable[0].action).toBe('verify')
    const multipart = planPublish(input({ listing: [obj('assets/app-AAAA.js', 99, `${'d'.repeat(32)}-2`)] }))
    expect(multipart.immutable[0].action).toBe('verify')
    expect(settleVerified(sameSize.immutable[0], true)).toMatchObject({ action: 'skip', reason: 'present (same content)' })
    expect(settleVerified(sameSize.immutable[0], false)).toMatchObject({ action: 'conflict' })
    // a mutable file is simply replaced
    const mutable = planPublish(input({ listing: [obj('index.html', 99, 'd'.repeat(32))] }))
    expect(mutable.mutable.find((f) => f.path === 'index.html')).toMatchObject({ action: 'upload', reason: 'changed' })
  })

  const record = (over: Partial<ReleaseRecord>, files = localFiles(manifest, '', opts())): ReleaseRecord => ({
    ...releaseRecord(
      { release: 'r2', prefix: '', record: { key: '', write: true, reason: '', createdAt: '2029-01-01T00:00:00.000Z' } } as never,
      undefined,
      'cdn-manifest.json',
      files.map((file) => ({ file, digest: digest(file.path) })),
      'current',
      { publishedAt: '2029-01-02T00:00:00.000Z' },
    ),
    ...over,
  })
  const everything = () => [...Object.keys(manifest.files).map((p) => stored('', p)), obj('cdn-manifest.json', 500, 'f'.repeat(32)), obj('.cdn-publish/releases/r2.json', 1, 'x')]

  test('the current release again: nothing to write', () => {
    const plan = planPublish(input({ listing: everything(), ownRecord: record({}), pointer: 'r2' }))
    expect(Object.values(actions(plan)).every((a) => a.startsWith('skip'))).toBe(true)
    expect(plan.record.write).toBe(false)
    expect(plan.activate.write).toBe(false)
    expect(plan.previous).toBeUndefined()
  })

  test('a pending record naming another previous release is written again, naming the current one (a release became current meanwhile)', () => {
    const plan = planPublish(input({ listing: everything(), ownRecord: record({ state: 'pending', previous: 'r1' }), pointer: 'r9' }))
    expect(plan.record).toMatchObject({ write: true, reason: 'previous release changed', createdAt: '2029-01-01T00:00:00.000Z' })
    expect(plan.previous?.release).toBe('r9')
  })

  test('a pending record of the same files is kept (rerun), and still activated', () => {
    const plan = planPublish(input({ listing: everything(), ownRecord: record({ state: 'pending', previous: 'r1' }), pointer: 'r1' }))
    expect(plan.record).toMatchObject({ write: false, reason: 'pending record exists', createdAt: '2029-01-01T00:00:00.000Z' })
    expect(plan.activate.write).toBe(true)
    expect(plan.previous?.release).toBe('r1')
  })

  test('a record that was replaced (re-publishing an older release) is written pending again', () => {
    const plan = planPublish(input({ ownRecord: record({ state: 'replaced' }), pointer: 'r3', previousRecord: record({ release: 'r3' }) }))
    expect(plan.record).toMatchObject({ write: true, reason: 'record was replaced' })
    expect(plan.previous).toMatchObject({ release: 'r3', write: true, reason: 'mark replaced' })
  })

  test('a different label rewrites the record', () => {
    const plan = planPublish(input({ listing: everything(), ownRecord: record({}), pointer: 'r2', label: 'new' }))
    expect(plan.record.write).toBe(true)
    expect(plan.activate.write).toBe(true)
  })

  test('changed headers re-send the same bytes, known from the record that stored them', () => {
    const plan = planPublish(input({ listing: everything(), ownRecord: record({}), pointer: 'r2', options: { cacheControl: { mutable: 'max-age=60' } } }))
    expect(actions(plan)).toMatchObject({
      'index.html': 'upload: headers changed',
      'assets/app-AAAA.js.map': 'upload: headers changed',
      'assets/app-AAAA.js': 'skip: present',
    })
  })

  test('previousRelease: the pointer, or what a pending record remembers once the pointer already names it', () => {
    const pending = record({ state: 'pending', previous: 'r1' })
    expect(previousRelease('r2', 'r1', undefined)).toBe('r1')
    expect(previousRelease('r2', 'r2', pending)).toBe('r1')
    expect(previousRelease('r2', 'r2', record({}))).toBeUndefined()
    expect(previousRelease('r2', undefined, pending)).toBeUndefined()
  })

  test('records list published files only, with digests and header hashes once stored', () => {
    const files: LocalFile[] = localFiles(manifest, '', opts({ sourcemaps: 'skip' }))
    const r = record({}, files)
    expect(Object.keys(r.files).sort()).toEqual(['assets/app-AAAA.js', 'img/logo-BBBB.png', 'index.html'])
    expect(r.files['index.html']).toMatchObject({ integrity: 'sha384-html', size: 20, immutable: false, md5: md5('index.html') })
    expect(r.files['index.html'].headers).toMatch(/^[0-9a-f]{16}$/)
  })
})

describe('output', () => {
  test('formatBytes', () => {
    expect(formatBytes(999)).toBe('999 B')
    expect(formatBytes(1500)).toBe('1.50 kB')
    expect(formatBytes(81_234_567)).toBe('81.2 MB')
  })

  test('progress: live on a terminal, periodic lines otherwise, never the last one twice', () => {
    let t = 0
    const lines: string[] = []
    const live: string[] = []
    const plain = new Progress({ info: (l) => lines.push(l), warn() {} }, 4, 4000, () => t, 5000)
    for (let i = 0; i < 4; i++) {
      t += 3000
      plain.add(1000)
    }
    expect(lines).toEqual(['uploading 2/4 files, 2.00 kB of 4.00 kB (333 B/s)'])
    t = 0
    const tty = new Progress({ info() {}, warn() {}, live: (l) => live.push(l) }, 2, 2000, () => t, 100)
    t = 50
    tty.add(1000)
    t = 200
    tty.add(1000)
    expect(live).toEqual(['uploading 2/2 files, 2.00 kB of 2.00 kB (10.0 kB/s)'])
  })
})
