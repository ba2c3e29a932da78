/**
 * The options of `cdnPublish()`, with their documentation and defaults, and what each resolves to. Checking
 * them is ./validate.ts; resolving them against the environment is ./build.ts, ./publish.ts,
 * ./retention.ts, all at once ./resolve.ts.
 */
import type { SourcedOption, ValueSource } from './env.js'

// ---------------------------------------------------------------------------------------------
// the build

/** Options of the build-side fingerprinting. */
export interface FingerprintOptions {
  /**
   * Copy files of Vite's `public/` directory that CSS or HTML references to content-hashed names
   * (`img/logo.png` → `img/logo-<hash>.png`) and rewrite the references. The unhashed copy stays.
   * @default true
   */
  public?: boolean
  /**
   * Length of the content hash this plugin puts in the names it gives (base64url characters of a
   * SHA-256). Files the bundler names keep the bundler's hash length.
   * @default 8
   */
  hashLength?: number
}

/** Options of the runtime skew guard (`skewGuard`). */
export interface SkewGuardOptions {
  /**
   * Reload the page once when a file of its release fails to load and another build is live,
   * and, with `poll`, on the next navigation (`history.pushState`, back/forward) after an update
   * was seen. `false`: only dispatch the events (`cdn-publish:skew`, `cdn-publish:update`) and
   * leave the reload to the app.
   * @default true
   */
  reload?: boolean
  /**
   * How often the page asks `cdn-release.json` whether another build is live (a duration such as
   * `'5m'`); when one is, it dispatches `cdn-publish:update` on `window` once per new build.
   * `false`: never; the file is read only after a failed load.
   * @default false
   */
  poll?: string | false
}

/** Options of `cdnPublish()`. */
export interface CdnPublishOptions {
  /** Fingerprinting of files the bundler does not hash itself. */
  fingerprint?: FingerprintOptions
  /**
   * File name of the stable manifest written into the output directory, overwritten by each build;
   * `false` writes none.
   * @default 'cdn-manifest.json'
   */
  manifest?: string | false
  /**
   * Turn a CSS reference to a file that exists nowhere (`CSS_URL_UNRESOLVED`) from a warning into
   * an error that fails the build.
   * @default false
   */
  strict?: boolean
  /**
   * Directory of static files served as they are, for plain Rollup builds. Under Vite, Vite's own
   * `publicDir` is used and this option is ignored.
   * @default undefined (none)
   */
  publicDir?: string | false
  /**
   * Public URL prefix the output is served from, for plain Rollup builds. Under Vite, Vite's
   * `base` is used and this option is ignored.
   * @default '/'
   */
  base?: string
  /**
   * Free text stored in the manifest and the release record (for example a commit id).
   * Can also be set with the `CDN_PUBLISH_LABEL` environment variable.
   * @default undefined
   */
  label?: string
  /**
   * Subresource integrity: give every `<script src>`, `<link rel=stylesheet>` and
   * `<link rel=modulepreload>` of the pages this plugin publishes that names a content-hashed file
   * of the output an `integrity` attribute (the sha384 digest the manifest lists for it) and a
   * `crossorigin` attribute when it has none. Applied after every rename, to Vite's pages and to
   * the pages a framework writes after the bundle. Files whose names carry no hash get none (their
   * bytes can change under their URL). Served from another origin, the files need CORS headers
   * (see "Subresource integrity" in the README).
   * @default false
   */
  sri?: boolean
  /**
   * The runtime skew guard (see "Skew guard" in the README): each published page that runs
   * scripts loads a small guard (`cdn-skew-guard-<hash>.js`, no dependency, under 1 KB) that, when
   * a lazy chunk or stylesheet of the page's release fails to load (`vite:preloadError`, a failed
   * dynamic import), asks `cdn-release.json` which build is live and reloads the page once if it
   * is another one; it never reloads twice toward the same build. Added where the pages are
   * published (the deploy core), with `cdn-release.json` written just before the stable manifest.
   * `true` is `{ reload: true, poll: false }`.
   * @default false
   */
  skewGuard?: boolean | SkewGuardOptions
  /**
   * Publish the output to an S3-compatible bucket after the build (see "Publishing" in the
   * README). Publishing happens only when a bucket is configured here or in `CDN_PUBLISH_BUCKET`;
   * `false` turns it off entirely.
   * @default {}
   */
  publish?: PublishOptions | false
  /**
   * Pruning of old releases after each publish (see "Retention" in the README): the current
   * release, the `releases − 1` before it, any release younger than `minAge` and any replaced less
   * than `grace` ago are kept, with every file they name; `false` never deletes anything.
   * @default { releases: 3, minAge: '1h', grace: '48h', orphans: 'keep' }
   */
  retention?: RetentionOptions | false
}

export interface ResolvedBuildOptions {
  fingerprintPublic: boolean
  hashLength: number
  manifest: string | false
  strict: boolean
  publicDir: string | false
  base: string
  label: string | undefined
  sri: boolean
  skewGuard: ResolvedSkewGuard | false
}

export interface ResolvedSkewGuard {
  reload: boolean
  /** Milliseconds between two reads of `cdn-release.json`; `false`: no polling. */
  pollMs: number | false
}

// ---------------------------------------------------------------------------------------------
// publishing

/** A content encoding the publish step can store files with. */
export type PrecompressEncoding = 'gzip' | 'br'

/** Precompression with a choice of files. */
export interface PrecompressOptions {
  /** Encoding to store the files with (`Content-Encoding`). */
  encoding: PrecompressEncoding
  /**
   * Globs (picomatch syntax, with `dot: true`) of the files to precompress, matched against the
   * whole path relative to the output directory.
   * @default DEFAULT_PRECOMPRESS_INCLUDE (text formats: js, mjs, cjs, css, html, json, map, svg, txt, xml, wasm, webmanifest, ico)
   */
  include?: string[]
}

/** Extra or replaced headers for the files a glob matches. */
export interface HeaderRule {
  /**
   * Glob or globs (picomatch syntax, with `dot: true`) matched against the whole path relative to
   * the output directory, such as `'fonts/*.woff2'` or `'assets/*.+(js|mjs)'`; a leading `/` or
   * `./` is ignored.
   */
  match: string | string[]
  /**
   * Headers to store with the matching files: `Cache-Control`, `Content-Type`,
   * `Content-Disposition`, `Content-Language`, `Content-Encoding`, `x-amz-meta-*` and other
   * `x-amz-*` object headers. Names are case-insensitive. Later rules win over earlier ones.
   */
  headers: Record<string, string>
}

/**
 * Options of the publish step (`cdnPublish({ publish: { … } })`).
 *
 * Resources fall back to environment variables, which are also read from Vite's `.env`,
 * `.env.local`, `.env.[mode]` and `.env.[mode].local` files. Precedence: explicit option >
 * environment variable (a variable of the real environment wins over the same one in a `.env`
 * file, as in Vite) > default. Credentials are never options: they come from the AWS SDK's default
 * provider chain only.
 */
export interface PublishOptions {
  /**
   * Bucket to publish to. Environment: `CDN_PUBLISH_BUCKET`. Publishing is skipped (with one
   * line saying so) when no bucket is set.
   * @default undefined
   */
  bucket?: string
  /**
   * Key prefix of every object: a file's key is `prefix` + its path relative to the output
   * directory. Normalised to `''` or a value ending in `/`. Environment: `CDN_PUBLISH_PREFIX`.
   * @default ''
   */
  prefix?: string
  /**
   * Region of the bucket. Environment: `CDN_PUBLISH_REGION`, then `AWS_REGION`.
   * @default the AWS SDK's (profile), or `'us-east-1'` with a custom `endpoint`
   */
  region?: string
  /**
   * Endpoint of an S3-compatible store (R2, MinIO, Ceph, Spaces, B2…), such as
   * `'https://<account>.r2.cloudflarestorage.com'`. Environment: `CDN_PUBLISH_ENDPOINT`, then
   * `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`.
   * @default undefined (AWS S3)
   */
  endpoint?: string
  /**
   * Address the bucket as `endpoint/bucket/key` instead of `bucket.endpoint/key` (MinIO, Ceph and
   * most self-hosted stores need this). Environment: `CDN_PUBLISH_FORCE_PATH_STYLE`.
   * @default true when `endpoint` is an IP address or `localhost`, false otherwise
   */
  forcePathStyle?: boolean
  /**
   * Uploads in flight at once. Small files are sent in a round trip or two each, so the upload
   * rate grows with this number until the store's CPU or the link is the limit.
   * @default 32
   */
  concurrency?: number
  /**
   * Do every read, print the full plan (each upload, skip and conflict with its reason) and
   * write nothing to the bucket. Environment: `CDN_PUBLISH_DRY_RUN`.
   * @default false
   */
  dryRun?: boolean
  /** `Cache-Control` of fingerprinted (immutable) and of all other (mutable) files. */
  cacheControl?: {
    /** @default 'public, max-age=31536000, immutable' */
    immutable?: string
    /** @default 'no-cache' */
    mutable?: string
  }
  /**
   * Header overrides by glob (picomatch syntax), applied after the defaults; for each header the last matching rule
   * wins.
   * @default []
   */
  headers?: HeaderRule[]
  /**
   * Whether source maps (`*.map`) are published.
   * @default 'publish'
   */
  sourcemaps?: 'publish' | 'skip'
  /**
   * Store text files compressed, with `Content-Encoding`: `'gzip'`, `'br'`, or
   * `{ encoding, include: [globs] }`. Every client then receives the encoded bytes, so use `'br'`
   * only where all clients accept Brotli. The stable manifest is never precompressed.
   * @default false
   */
  precompress?: false | PrecompressEncoding | PrecompressOptions
  /**
   * Free text stored with the release record, such as a commit id. Environment:
   * `CDN_PUBLISH_LABEL`.
   * @default the plugin's top-level `label`, else undefined
   */
  label?: string
  /**
   * When the AWS SDK adds request checksums and validates response checksums. `'WHEN_REQUIRED'`
   * works with every S3-compatible store; `'WHEN_SUPPORTED'` (the SDK's own default) adds CRC32
   * checksums that R2, Ceph and older MinIO reject. Every upload carries `Content-MD5` either way.
   * @default 'WHEN_REQUIRED'
   */
  checksums?: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED'
  /**
   * Where the publish report (`cdn-publish-report.json`: what was uploaded, skipped and pruned,
   * and where each setting came from) is written: a path, relative to the project root, or
   * `false` for none. It is never written inside the published directory, where a server would
   * serve it.
   * @default '<project root>/node_modules/.cache/cdn-publish/cdn-publish-report.json'
   */
  report?: string | false
  /**
   * The directory to publish, relative to the project root: what the CDN origin serves. Needed
   * only where the plugin cannot tell it: a SvelteKit adapter other than adapter-static and
   * adapter-node, or output moved elsewhere after the build.
   * @default the build's `outDir`; for SvelteKit the adapter's copy of the client output, for
   * React Router `build/client`, for Astro `dist/` (static) or `build.client` (server output)
   */
  dir?: string
  /**
   * Tell the CDN to drop its cached copies of the mutable files the switch changed (pages, the
   * stable manifest, version files), once the new release is live (see "CDN invalidation" in the
   * README). A failed invalidation is a warning (`INVALIDATION_FAILED`): the release is live.
   */
  invalidate?: InvalidateOptions
}

export interface InvalidateOptions {
  /** A CloudFront distribution in front of the bucket. */
  cloudfront?: CloudFrontInvalidation
}

export interface CloudFrontInvalidation {
  /**
   * The distribution's id (`E2QWRUHAPOMQZL`). A resource, so best in the environment:
   * `CDN_PUBLISH_CLOUDFRONT_DISTRIBUTION` (which alone turns invalidation on).
   */
  distributionId?: string
  /**
   * The distribution origin's "Origin path" for this bucket (`/static`): CloudFront asks the
   * bucket for origin path + URL path, so a key's URL path is the key without it.
   * @default ''
   */
  originPath?: string
  /** Paths to invalidate instead of the changed files' (`['/*']`). */
  paths?: string[]
  /**
   * Wait for CloudFront to report the invalidation completed: `true` waits up to 10 minutes, a
   * number is the most seconds to wait. Past that the publish ends; the invalidation completes
   * on its own.
   * @default false
   */
  wait?: boolean | number
}

/** A compiled glob: whether a path relative to the output directory matches it. */
export type GlobMatcher = (path: string) => boolean

/** A header rule with its globs compiled and header names lower-cased. */
export interface ResolvedHeaderRule {
  match: string[]
  matchers: GlobMatcher[]
  headers: Record<string, string>
}

export interface ResolvedPrecompress {
  encoding: PrecompressEncoding
  include: string[]
  matchers: GlobMatcher[]
}

export interface ResolvedPublishOptions {
  /** Undefined: publishing is skipped. */
  bucket: string | undefined
  /** `''` or ending in `/`. */
  prefix: string
  /** Undefined: the SDK decides. */
  region: string | undefined
  /** Undefined: AWS S3. */
  endpoint: string | undefined
  forcePathStyle: boolean
  concurrency: number
  dryRun: boolean
  label: string | undefined
  cacheControl: { immutable: string; mutable: string }
  headers: ResolvedHeaderRule[]
  sourcemaps: 'publish' | 'skip'
  precompress: ResolvedPrecompress | false
  checksums: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED'
  /** The report's path as given (relative to the project root), `false` for none, undefined for the default. */
  report: string | false | undefined
  /** The directory to publish as given (relative to the project root); undefined: the framework's or the build's. */
  dir: string | undefined
  /** Undefined: no CDN invalidation. */
  invalidate: { cloudfront: ResolvedCloudFront } | undefined
  /** Where each value that can come from the environment came from. */
  sources: Record<SourcedOption, ValueSource>
}

export interface ResolvedCloudFront {
  distributionId: string
  /** `''` or starting with `/`, without a trailing `/`. */
  originPath: string
  paths: string[] | undefined
  /** `0`: do not wait. */
  waitMs: number
  /** CloudFront's API endpoint (`CDN_PUBLISH_CLOUDFRONT_ENDPOINT`); undefined: AWS. */
  endpoint: string | undefined
}


/** Text formats precompressed by default. */
export const DEFAULT_PRECOMPRESS_INCLUDE = ['**/*.{js,mjs,cjs,css,html,htm,json,map,svg,txt,xml,wasm,webmanifest,ico}']

export const DEFAULT_CACHE_CONTROL = {
  immutable: 'public, max-age=31536000, immutable',
  mutable: 'no-cache',
} as const

/**
 * Uploads in flight by default: where a site of thousands of small files reaches the store's
 * throughput (measured with bench/publish.mjs on radosgw and s3rver; see bench/README.md).
 */
export const DEFAULT_CONCURRENCY = 32

// ---------------------------------------------------------------------------------------------
// retention

/**
 * Retention of old releases: after each publish (and with `cdn-publish prune`), the files of
 * releases that no retention rule keeps any more are deleted. A file is deleted only when no kept
 * release names it, and nothing outside the prefix is ever deleted. `false` turns pruning off.
 *
 * Durations are milliseconds or strings such as `'90s'`, `'15m'`, `'1h'`, `'1.5h'`, `'2d'`.
 *
 * For users of the Ruby gem s3_asset_deploy: `version_limit` ≈ `releases − 1`,
 * `version_ttl` ≈ `minAge`, `removed_ttl` ≈ `grace`.
 */
export interface RetentionOptions {
  /**
   * Number of releases kept by count: the current release and the `releases − 1` most recently
   * replaced ones (their files stay, so a rollback to them is possible).
   * s3_asset_deploy's `version_limit` is `releases − 1`.
   * @default 3
   */
  releases?: number
  /**
   * A release published less than this long ago is kept, even beyond `releases`.
   * s3_asset_deploy's `version_ttl`.
   * @default '1h'
   */
  minAge?: string | number
  /**
   * A release's files are kept until this long after it stopped being current, for HTML still in
   * caches and long-lived browser tabs. Also how long an unfinished publish is waited for (at
   * least 1 h, whatever `grace` says), and
   * the minimum age of an orphan deleted with `orphans: 'delete'`.
   * s3_asset_deploy's `removed_ttl`.
   * @default '48h'
   */
  grace?: string | number
  /**
   * Objects under the prefix that no release record names (from other tools, or from before the
   * plugin was adopted): `'keep'` never deletes them; `'delete'` deletes them once older than
   * `grace`.
   * @default 'keep'
   */
  orphans?: 'keep' | 'delete'
  /**
   * Allow pruning when the prefix is empty, i.e. when the whole bucket is the plugin's.
   * Without it, pruning with an empty prefix is refused.
   * @default false
   */
  allowRootPrefix?: boolean
}

export interface RetentionPolicy {
  /** Releases kept by count, the current one included (>= 1). */
  releases: number
  /** ms: a release published less than this ago is kept. */
  minAge: number
  /** ms: a release's files are kept until this long after it stopped being current. */
  grace: number
  /** Whether objects no record names may be deleted (only when older than `grace`). */
  orphans: 'keep' | 'delete'
}

export type ResolvedRetention = RetentionPolicy & { allowRootPrefix: boolean }
