/**
 * The state of one build, shared by the plugin's hooks: Vite's config (when under Vite), the
 * resolved build options, the public files fingerprinted so far, the references hidden from Vite
 * to restore as written, and what the client output wrote; plus the helpers that read and grow it.
 * `start` resets it at every `buildStart` (watch mode and repeated builds reuse the plugin).
 */
import { createHash } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { Codes } from '../errors.js'
import { detectFramework, type Framework } from '../frameworks/index.js'
import type { ResolvedBuildOptions } from '../options/types.js'
import { contentHash } from './hash.js'
import type { FileDigest } from './manifest.js'
import { fingerprintedName, joinOutputPath } from './names.js'
import { listFiles } from './public-files.js'
import type { Context, ViteConfigLike } from './types.js'

export interface Fingerprinted {
  /** Output path of the hashed copy. */
  fileName: string
  bytes: Uint8Array
  /** Reference id when emitted through the bundler. */
  ref?: string
  /** Size and integrity of `bytes`, once the manifest needed them (the copy and its source share them). */
  digest?: FileDigest
}

/** Where a stylesheet reference sits, for a report. */
export interface RefLocation {
  url: string
  line: number
  column: number
}

export interface BuildContext {
  /** Vite's resolved config; undefined under plain Rollup. */
  readonly vite: ViteConfigLike | undefined
  /** The framework whose plugins the build holds, if any. */
  readonly framework: Framework | undefined
  /** The options of the current build (set by `start`). */
  readonly opts: ResolvedBuildOptions
  /** Public files fingerprinted in this build, by path relative to the public directory. */
  readonly fingerprinted: ReadonlyMap<string, Fingerprinted>
  /** Placeholder → the reference it hides from Vite, to restore as written. */
  readonly kept: ReadonlyMap<string, string>
  /**
   * The URLs the transform pass read in stylesheet sources, and reported there when they resolve
   * nowhere. The output pass reports the others: what a preprocessor or a PostCSS plugin wrote.
   */
  readonly readInSources: Set<string>
  /**
   * Facade module id → chunk name of every entry chunk rendered in this build, those Vite later
   * drops from the bundle (stylesheet entries) included.
   */
  readonly entryChunks: Map<string, string>
  /** What the last client output of this build wrote, for the publish step. */
  written: { outDir: string; manifest: string | false } | undefined
  /**
   * Whether stylesheets of server builds are transformed too: a framework that builds page CSS in
   * its server build and serves it to browsers (Astro).
   */
  readonly serverStylesheets: boolean

  /** Vite's config, and the framework when the caller knows it (a framework's module), else as detected. */
  configure(config: ViteConfigLike, framework?: Framework): void
  /** A new build: its options, and empty per-build state. */
  start(opts: ResolvedBuildOptions): void
  /** True for server-side output, which this plugin leaves alone. */
  isSsr(ctx: Context): boolean
  /** `rel` normalised, when it names a file in one of the public directories (see `start`). */
  publicFile(rel: string): string | undefined
  /** The public directory a file `publicFile` found is in. */
  publicSourceOf(rel: string): string | undefined
  /** The hashed copy of a public file (read and named once per build). */
  fingerprint(rel: string): Fingerprinted
  /** The hashed copy of a public file, emitted through the bundler (once per build). */
  emitFingerprinted(ctx: Context, rel: string): Fingerprinted
  /** Warn (or, when strict, fail) about a stylesheet reference, once per stylesheet and URL. */
  report(ctx: Context, where: string, ref: RefLocation, file: string, why?: string): void
  /** The directories a stylesheet may take files from: Vite's `server.fs.allow` (the workspace root by default). */
  allowed(): string[]
  isAllowed(file: string): boolean
  /**
   * A placeholder Vite leaves alone (a fragment-only URL), restored to `url` in `generateBundle`.
   * Named after `url`, so that the same build writes the same placeholder whatever the order of
   * its transforms (a chunk holding one is hashed before it is restored).
   */
  keepAsWritten(url: string): string
}

/** How a keep-as-written placeholder starts (`#` makes it a fragment-only URL, which Vite leaves alone). */
export const KEEP_TOKEN_PREFIX = '#cdn-publish-keep-'
/** Every keep-as-written placeholder in a text. */
export const KEEP_TOKEN_RE = /#cdn-publish-keep-[\da-f]{16}/g

const isFile = (p: string) => statSync(p, { throwIfNoEntry: false })?.isFile() ?? false
const isDirectory = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false

export interface BuildContextOptions {
  /** See `BuildContext.serverStylesheets` (default false). */
  serverStylesheets?: boolean
}

export function createBuildContext(init: BuildContextOptions = {}): BuildContext {
  let vite: ViteConfigLike | undefined
  let framework: Framework | undefined
  let opts: ResolvedBuildOptions | undefined
  let fingerprinted = new Map<string, Fingerprinted>()
  let warned = new Set<string>()
  let kept = new Map<string, string>()
  let readInSources = new Set<string>()
  let entryChunks = new Map<string, string>()
  /** Public file → the public directory it was found in. */
  let publicSources = new Map<string, string>()
  /**
   * Where public files are, in the order looked up, found once per build at `start`: Vite's
   * public directory when it exists, then the framework's web root (Laravel and vite_ruby serve
   * the web root itself), or the `publicDir` option under Rollup.
   */
  let publicDirs: string[] = []
  /** `allowed()` with each directory's prefix, worked out at the first `isAllowed` of a build. */
  let allowedDirs: { dir: string; prefix: string }[] | undefined
  /** The files of Vite's public directory, listed at the first look-up of a build. */
  let publicListing: Set<string> | undefined
  const listing = () => (publicListing ??= new Set(vite?.publicDir ? listFiles(vite.publicDir) : []))
  /**
   * Whether `normal` is a file in `dir`: Vite's public directory answers from its listing (no
   * file-system call per reference); a name it does not list (a link, a name in other case on a
   * case-insensitive disk) and every other directory ask the file system.
   */
  const inDir = (dir: string, normal: string) => (dir === vite?.publicDir && listing().has(normal)) || isFile(path.join(dir, normal))

  const build: BuildContext = {
    get vite() {
      return vite
    },
    get framework() {
      return framework
    },
    get opts() {
      return opts!
    },
    get fingerprinted() {
      return fingerprinted
    },
    get kept() {
      return kept
    },
    get readInSources() {
      return readInSources
    },
    get entryChunks() {
      return entryChunks
    },
    written: undefined,
    serverStylesheets: init.serverStylesheets ?? false,

    configure(config, known) {
      vite = config
      framework = known ?? detectFramework(config)
    },

    start(options) {
      opts = options
      fingerprinted = new Map()
      warned = new Set()
      kept = new Map()
      readInSources = new Set()
      entryChunks = new Map()
      publicSources = new Map()
      publicListing = undefined
      allowedDirs = undefined
      if (!vite) publicDirs = options.publicDir ? [path.resolve(options.publicDir)] : []
      else publicDirs = [...(vite.publicDir && isDirectory(vite.publicDir) ? [vite.publicDir] : []), ...(framework?.webRoots?.(vite) ?? [])]
    },

    isSsr: (ctx) => Boolean(vite?.build.ssr) || ctx.environment?.config?.consumer === 'server',


    publicFile(rel) {
      const normal = joinOutputPath('', rel)
      if (!normal) return undefined
      if (publicSources.has(normal)) return normal
      const dir = publicDirs.find((d) => inDir(d, normal))
      if (dir === undefined) return undefined
      publicSources.set(normal, dir)
      return normal
    },

    publicSourceOf: (rel) => publicSources.get(rel),

    fingerprint(rel) {
      let f = fingerprinted.get(rel)
      if (!f) {
        const dir = publicSources.get(rel) ?? publicDirs[0]!
        const bytes = readFileSync(path.join(dir, rel))
        const name = fingerprintedName(rel, contentHash(bytes, opts!.hashLength))
        f = { fileName: framework?.copiesDir ? path.posix.join(framework.copiesDir, name) : name, bytes }
        fingerprinted.set(rel, f)
      }
      return f
    },

    emitFingerprinted(ctx, rel) {
      const f = build.fingerprint(rel)
      if (!f.ref) f.ref = ctx.emitFile({ type: 'asset', fileName: f.fileName, source: f.bytes })
      return f
    },

    report(ctx, where, ref, file, why) {
      const key = `${where}\0${ref.url}`
      if (warned.has(key)) return
      warned.add(key)
      const what =
        why ?? `names a file that exists nowhere (not in the bundle${publicDirs.length ? `, not in ${publicDirs.map((d) => path.relative(vite?.root ?? process.cwd(), d) || '.').join(' or ')}` : ''}, not next to the stylesheet)`
      const log = {
        code: Codes.CSS_URL_UNRESOLVED,
        message: `${where}:${ref.line}:${ref.column}: url(${ref.url}) ${what}. The reference is left as written; fix the path or add the file to the project.`,
        id: file,
        loc: { file, line: ref.line, column: ref.column - 1 },
      }
      if (opts!.strict) ctx.error(log)
      ctx.warn(log)
    },

    allowed: () => (vite?.server?.fs?.allow ?? [vite?.root ?? process.cwd()]).map((d) => path.resolve(d)),

    isAllowed(file) {
      allowedDirs ??= build.allowed().map((dir) => ({ dir, prefix: dir.endsWith(path.sep) ? dir : dir + path.sep }))
      return allowedDirs.some(({ dir, prefix }) => file === dir || file.startsWith(prefix))
    },

    keepAsWritten(url) {
      const token = `${KEEP_TOKEN_PREFIX}${createHash('sha256').update(url).digest('hex').slice(0, 16)}`
      kept.set(token, url)
      return token
    },
  }
  return build
}
