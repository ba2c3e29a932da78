import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import MagicString from 'magic-string'
import { findCssRefs, isExternalOrSpecialUrl, rewriteCssRefs, splitUrlSuffix, type CssRef } from './build/css-urls.js'
import { planRenames } from './build/graph.js'
import { contentHash } from './build/hash.js'
import { encodeAttributeValue, findHtmlRefs } from './build/html-refs.js'
import { createManifest, stringifySorted, type ManifestEntry, type OutputFile } from './build/manifest.js'
import {
  decodeUrlPath,
  dirname,
  fingerprintedName,
  joinOutputPath,
  type HashSpan,
} from './build/names.js'
import {
  bytesOf,
  createHashLocator,
  isCss,
  isHtml,
  isSourceMap,
  textOf,
  type Bundle,
  type BundleAsset,
  type BundleChunk,
  type BundleEntry,
  type NamePatterns,
} from './build/outputs.js'
import { listFiles } from './build/public-files.js'
import { createUrls, isRelativeUrl, type RenderBuiltUrl } from './build/urls.js'
import { CdnPublishError, Codes } from './errors.js'
import { runPublishStep } from './publish/step.js'
import { resolveBuildOptions, type CdnPublishOptions, type ResolvedBuildOptions } from './options/build.js'

/** The plugin object: plain Rollup plugin API, usable in Vite 7, Vite 8 (Rolldown) and Rollup 4. */
export interface CdnPublishPlugin {
  name: 'cdn-publish'
  enforce: 'pre'
  // Hooks are typed loosely so the object fits Rollup's, Rolldown's and Vite's plugin types alike.
  configResolved: (...args: any[]) => void
  buildStart: (...args: any[]) => void
  transform: { filter: { id: { include: RegExp; exclude: RegExp[] } }; handler: (...args: any[]) => any }
  generateBundle: { order: 'post'; handler: (...args: any[]) => void }
  closeBundle: { order: 'post'; sequential: true; handler: (...args: any[]) => Promise<void> }
}

/** What this plugin reads of Vite's resolved config. */
export interface ViteConfigLike {
  root: string
  mode: string
  envDir?: string | false
  logger?: { info(msg: string): void; warn(msg: string): void; error(msg: string): void }
  base: string
  command: 'build' | 'serve'
  publicDir: string
  build: { outDir: string; ssr?: unknown; copyPublicDir?: boolean; sourcemap?: boolean | 'inline' | 'hidden' }
  server?: { fs?: { allow?: string[] } }
  experimental?: { renderBuiltUrl?: RenderBuiltUrl }
}
/** The parts of Rollup's/Rolldown's plugin context used here. */
interface Context {
  emitFile(file: { type: 'asset'; fileName: string; source: Uint8Array | string }): string
  warn(log: { code: string; message: string; [key: string]: unknown }): void
  error(log: { code: string; message: string; [key: string]: unknown }): never
  resolve(source: string, importer?: string): Promise<{ id: string; external?: boolean | string } | null>
  meta: { rolldownVersion?: string; watchMode?: boolean }
  environment?: { config?: { consumer?: string } }
}

const CSS_LANG_RE = /\.(?:css|less|sass|scss|styl|stylus|pcss|postcss|sss)(?:$|\?)/
const SKIP_QUERY_RE = /[?&](?:raw|url)\b/
const DATA_URL_RE = /^\s*data:/i
/** Characters that a URL Vite writes unquoted into CSS cannot contain. */
const PLAIN_URL_RE = /^[\w./~@+-]*$/

interface Fingerprinted {
  /** Output path of the hashed copy. */
  fileName: string
  bytes: Uint8Array
  /** Reference id when emitted through the bundler. */
  ref?: string
}

/** Create the plugin. */
export function cdnPublish(options: CdnPublishOptions = {}): CdnPublishPlugin {
  let opts: ResolvedBuildOptions
  let vite: ViteConfigLike | undefined
  /** Public files fingerprinted in this build, by path relative to the public directory. */
  let fingerprinted = new Map<string, Fingerprinted>()
  let warned = new Set<string>()
  /** Placeholder → the reference it hides from Vite, to restore as written. */
  let kept = new Map<string, string>()
  /** What the last client output of this build wrote, for the publish step. */
  let written: { outDir: string; manifest: string | false } | undefined

  const isSsr = (ctx: Context) => Boolean(vite?.build.ssr) || ctx.environment?.config?.consumer === 'server'

  const publicDir = (): string | undefined => {
    const dir = vite ? vite.publicDir : opts.publicDir ? path.resolve(opts.publicDir) : undefined
    return dir || undefined
  }

  /** Path relative to the public directory when `rel` names a file there. */
  const publicFile = (rel: string): string | undefined => {
    const dir = publicDir()
    const normal = joinOutputPath('', rel)
    if (!dir || !normal) return undefined
    const abs = path.join(dir, normal)
    try {
      return statSync(abs).isFile() ? normal : undefined
    } catch {
      return undefined
    }
  }

  const fingerprint = (rel: string): Fingerprinted => {
    let f = fingerprinted.get(rel)
    if (!f) {
      const bytes = readFileSync(path.join(publicDir()!, rel))
      f = { fileName: fingerprintedName(rel, contentHash(bytes, opts.hashLength)), bytes }
      fingerprinted.set(rel, f)
    }
    return f
  }

  const emitFingerprinted = (ctx: Context, rel: string): Fingerprinted => {
    const f = fingerprint(rel)
    if (!f.ref) f.ref = ctx.emitFile({ type: 'asset', fileName: f.fileName, source: f.bytes })
    return f
  }

  const report = (ctx: Context, where: string, ref: { url: string; line: number; column: number }, file: string, why?: string) => {
    const key = `${where}\0${ref.url}`
    if (warned.has(key)) return
    warned.add(key)
    const what =
      why ?? `names a file that exists nowhere (not in the bundle${publicDir() ? ', not in the public directory' : ''}, not next to the stylesheet)`
    const log = {
      code: Codes.CSS_URL_UNRESOLVED,
      message: `${where}:${ref.line}:${ref.column}: url(${ref.url}) ${what}. The reference is left as written; fix the path or add the file to the project.`,
      id: file,
      loc: { file, line: ref.line, column: ref.column - 1 },
    }
    if (opts.strict) ctx.error(log)
    ctx.warn(log)
  }

  /** The directories a stylesheet may take files from: Vite's `server.fs.allow` (the workspace root by default). */
  const allowed = (): string[] => (vite?.server?.fs?.allow ?? [vite?.root ?? process.cwd()]).map((d) => path.resolve(d))
  const isAllowed = (file: string) => allowed().some((dir) => file === dir || file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep))

  /** A placeholder Vite leaves alone (a fragment-only URL), restored to `url` in `generateBundle`. */
  const keepAsWritten = (url: string): string => {
    const token = `#cdn-publish-keep-${kept.size}`
    kept.set(token, url)
    return token
  }

  /**
   * What the transform pass does with one stylesheet reference: a replacement (a fingerprinted
   * public file's placeholder, or a keep-as-written token), or `undefined` to leave it to Vite.
   */
  const classifyRef = async (ctx: Context, ref: CssRef, id: string, file: string, where: string): Promise<string | undefined> => {
    if (ref.isImport || isExternalOrSpecialUrl(ref.url)) return undefined
    const { path: p, suffix } = splitUrlSuffix(ref.url)
    if (p === '') {
      if (!suffix.startsWith('?')) return undefined
      report(ctx, where, ref, file, 'names only a query, which means the stylesheet itself')
      return keepAsWritten(ref.url)
    }
    const decoded = decodeUrlPath(p)
    if (decoded.startsWith('/')) {
      const rel = publicFile(decoded)
      if (rel) {
        if (!opts.fingerprintPublic) return undefined
        const f = fingerprint(rel)
        // Names Vite would write unquoted-unsafe go through the output pass instead.
        if (!PLAIN_URL_RE.test(f.fileName)) return undefined
        return `__VITE_ASSET__${emitFingerprinted(ctx, rel).ref}__${suffix}`
      }
    }
    // the file on disk the reference names: in the project (root-absolute), next to the
    // stylesheet (relative), or wherever the bundler resolves it (aliases, packages)
    const near = decoded.startsWith('/') ? path.join(vite!.root, decoded) : path.resolve(path.dirname(file), decoded)
    let target = existsSync(near) ? near : undefined
    if (target === undefined) {
      const resolved = await ctx.resolve(p, id)
      if (!resolved) {
        report(ctx, where, ref, file)
        return undefined
      }
      const resolvedFile = resolved.id.replace(/[?#].*$/, '')
      if (!resolved.external && path.isAbsolute(resolvedFile) && existsSync(resolvedFile)) target = resolvedFile
    }
    if (target !== undefined && !isAllowed(target)) {
      report(ctx, where, ref, file, `resolves to ${target}, outside the project (Vite's server.fs.allow), and is not copied into the output`)
      return keepAsWritten(ref.url)
    }
    return undefined
  }

  return {
    name: 'cdn-publish',
    enforce: 'pre',

    configResolved(config: ViteConfigLike) {
      vite = config
    },

    buildStart(this: Context) {
      written = undefined
      try {
        opts = resolveBuildOptions(options)
      } catch (e) {
        if (e instanceof CdnPublishError) this.error({ code: e.code, message: e.message, ...e.data })
        throw e
      }
      fingerprinted = new Map()
      warned = new Set()
      kept = new Map()
    },

    /**
     * Vite only: give public files referenced from stylesheets their hashed names before Vite
     * hashes the stylesheet, so Vite's own naming propagates the change (stylesheet → chunks →
     * HTML); lowercase `URL(` so Vite rewrites it like `url(`. A reference that names a file
     * outside the project (Vite's `server.fs.allow`), or only a query, is reported and hidden from
     * Vite behind a placeholder, restored as written in `generateBundle`: Vite would otherwise
     * inline or copy a file of the build machine (`url(/etc/passwd)`) into the published output.
     */
    transform: {
      // evaluated by the bundler itself: no call into this plugin for the thousands of scripts
      filter: { id: { include: CSS_LANG_RE, exclude: [/^\0/, SKIP_QUERY_RE] } },
      async handler(this: Context, code: string, id: string) {
        if (!vite || vite.command !== 'build' || isSsr(this)) return null
        if (id.startsWith('\0') || !CSS_LANG_RE.test(id) || SKIP_QUERY_RE.test(id)) return null
        const file = id.replace(/[?#].*$/, '')
        const where = path.relative(vite.root, file)
        const replacements = new Map<number, string>()
        for (const ref of findCssRefs(code)) {
          const replacement = await classifyRef(this, ref, id, file, where)
          if (replacement !== undefined) replacements.set(ref.start, replacement)
        }
        const result = rewriteCssRefs(
          code,
          (ref) => replacements.get(ref.start) ?? false,
          // a source map only when the build writes them: generating one is most of this hook's cost
          { lowercaseUrlFunctions: true, sourcemap: Boolean(vite.build.sourcemap), filename: file },
        )
        return result.changed ? { code: result.code, map: result.map } : null
      },
    },

    generateBundle: {
      order: 'post',
      handler(this: Context, outputOptions: NamePatterns & { dir?: string; file?: string }, bundle: Bundle) {
        if (isSsr(this)) return
        const locate = createHashLocator(outputOptions)
        const urls = createUrls(vite ? vite.base : opts.base, vite?.experimental?.renderBuiltUrl)
        const extra = new Map<string, OutputFile>()
        /** Bundle entries re-emitted under new names, which the bundle object no longer shows. */
        const extraEntries: BundleEntry[] = []
        const emitLate = (rel: string) => {
          const f = emitFingerprinted(this, rel)
          extra.set(f.fileName, { fileName: f.fileName, bytes: f.bytes, immutable: true })
          return f.fileName
        }

        /** Rewrite the references of a stylesheet found in `host`; returns the new text when it changed. */
        const rewriteCss = (css: string, host: string, hostType: 'css' | 'html', sourceFile?: string) => {
          const result = rewriteCssRefs(
            css,
            (ref) => {
              const original = kept.get(ref.url)
              if (original !== undefined) return original
              if (DATA_URL_RE.test(ref.url)) return false
              const { path: p, suffix } = splitUrlSuffix(ref.url)
              if (p === '') return false
              const target = urls.outputPathOf(p, host, hostType)
              if (target === undefined && isExternalOrSpecialUrl(ref.url)) return false
              if (target !== undefined && bundle[target]) return false
              const rel = target !== undefined ? publicFile(target) : undefined
              if (rel) return opts.fingerprintPublic ? urls.builtUrl(emitLate(rel), host, hostType, isRelativeUrl(p)) + suffix : false
              if (sourceFile && isRelativeUrl(p) && !vite) {
                const abs = path.resolve(path.dirname(sourceFile), decodeUrlPath(p))
                if (existsSync(abs) && statSync(abs).isFile()) {
                  const bytes = readFileSync(abs)
                  const name = fingerprintedName(
                    joinOutputPath(dirname(host), decodeUrlPath(p)) ?? path.basename(abs),
                    contentHash(bytes, opts.hashLength),
                  )
                  if (!bundle[name] && !extra.has(name)) {
                    this.emitFile({ type: 'asset', fileName: name, source: bytes })
                    extra.set(name, { fileName: name, bytes, immutable: true })
                  }
                  return urls.builtUrl(name, host, hostType, true) + suffix
                }
              }
              // Under Vite, the transform pass and Vite itself report references they cannot resolve.
              if (!vite && (target === undefined || !existsSync(path.join(outDirOf(outputOptions), target)))) {
                report(this, host, ref, host)
              }
              return false
            },
            { lowercaseUrlFunctions: true },
          )
          return result.changed ? result.code : undefined
        }

        const changed = new Set<string>()
        const setText = (entry: BundleEntry, text: string) => {
          if (entry.type === 'chunk') entry.code = text
          else entry.source = text
        }

        // Stylesheets: references the transform pass could not give hashed names (plain Rollup,
        // Sass variables, unusual names).
        for (const entry of Object.values(bundle)) {
          if (entry.type !== 'asset' || !isCss(entry.fileName)) continue
          const source = entry.originalFileNames?.[0]
          const updated = rewriteCss(textOf(entry)!, entry.fileName, 'css', source && path.isAbsolute(source) ? source : source && path.resolve(source))
          if (updated !== undefined) {
            setText(entry, updated)
            changed.add(entry.fileName)
          }
        }

        // HTML: resources the page loads from the public directory.
        for (const entry of Object.values(bundle)) {
          if (entry.type !== 'asset' || !isHtml(entry.fileName)) continue
          const html = textOf(entry)!
          const s = new MagicString(html)
          for (const ref of findHtmlRefs(html)) {
            if (ref.kind === 'style') {
              const updated = rewriteCss(ref.value, entry.fileName, 'html')
              if (updated !== undefined) s.overwrite(ref.start, ref.end, ref.attr ? encodeAttributeValue(updated, ref.quote) : updated)
              continue
            }
            const { path: p, suffix } = splitUrlSuffix(ref.value)
            if (p === '' || !opts.fingerprintPublic) continue
            const target = urls.outputPathOf(p, entry.fileName, 'html')
            if (target === undefined || bundle[target]) continue
            const rel = publicFile(target)
            if (!rel) continue
            const url = urls.builtUrl(emitLate(rel), entry.fileName, 'html', isRelativeUrl(p))
            s.overwrite(ref.start, ref.end, encodeAttributeValue(url + suffix, ref.quote))
          }
          if (s.hasChanged()) setText(entry, s.toString())
        }

        // Give every hashed file whose bytes changed (and everything naming it) a new name.
        if (changed.size) {
          const plan = planRenames(
            Object.values(bundle).map((e) => ({ fileName: e.fileName, text: textOf(e), hashSpan: locate(e) })),
            changed,
          )
          for (const [fileName, text] of plan.texts) setText(bundle[fileName], text)
          /** Files re-emitted under a new name (Rolldown), as the rest of this hook should see them. */
          const moved: BundleEntry[] = []
          const rename = (from: string, to: string) => {
            const entry = bundle[from]
            if (!entry) return
            delete bundle[from]
            if (this.meta.rolldownVersion) {
              // Rolldown ignores assignments to the bundle: emit the renamed file instead.
              this.emitFile({ type: 'asset', fileName: to, source: bytesOf(entry) })
              moved.push(entry.type === 'chunk' ? { ...pickChunk(entry), fileName: to } : { ...pickAsset(entry), fileName: to })
            } else {
              entry.fileName = to
              ;(bundle as Record<string, BundleEntry>)[to] = entry
            }
          }
          for (const [from, to] of plan.renames) {
            rename(from, to)
            rename(`${from}.map`, `${to}.map`)
          }
          const renamed = (n: string) => plan.renames.get(n) ?? n
          for (const entry of [...Object.values(bundle), ...moved]) {
            if (entry.type !== 'chunk') continue
            entry.imports = entry.imports.map(renamed)
            entry.dynamicImports = entry.dynamicImports.map(renamed)
            const meta = entry.viteMetadata
            if (meta) {
              meta.importedCss = new Set([...meta.importedCss].map(renamed))
              meta.importedAssets = new Set([...meta.importedAssets].map(renamed))
            }
          }
          for (const entry of moved) extraEntries.push(entry)
        }

        const ours = new Set([...fingerprinted.values()].map((f) => f.fileName))
        const hashed = (e: BundleEntry): HashSpan | boolean | undefined => ours.has(e.fileName) || extra.has(e.fileName) || locate(e)
        const outputs = [...Object.values(bundle), ...extraEntries]
        const manifestName = opts.manifest

        const unhashed = outputs
          .filter((e) => !hashed(e) && !isHtml(e.fileName) && !isSourceMap(e.fileName))
          .filter((e) => e.fileName !== manifestName && !e.fileName.startsWith('.vite/'))
          .map((e) => e.fileName)
          .sort()
        if (unhashed.length) {
          this.warn({
            code: Codes.UNHASHED_OUTPUT,
            message:
              `${unhashed.length} output file(s) carry no content hash in their name and will be served with ` +
              `no-cache (their URL does not change when their bytes do): ${unhashed.join(', ')}. ` +
              'Add [hash] to the matching entryFileNames/chunkFileNames/assetFileNames pattern to make them immutable.',
            files: unhashed,
          })
        }

        written = { outDir: outDirOf(outputOptions), manifest: manifestName }
        if (manifestName === false) return
        const files = new Map<string, OutputFile>()
        if (vite && vite.build.copyPublicDir !== false && publicDir()) {
          for (const rel of listFiles(publicDir()!)) {
            files.set(rel, { fileName: rel, path: path.join(publicDir()!, rel), immutable: false })
          }
        }
        for (const [name, f] of extra) files.set(name, f)
        for (const e of outputs) {
          if (e.fileName === manifestName) continue
          files.set(e.fileName, { fileName: e.fileName, bytes: bytesOf(e), immutable: Boolean(hashed(e)) })
        }
        const aliases: Record<string, string> = {}
        for (const [rel, f] of [...fingerprinted].sort(([a], [b]) => (a < b ? -1 : 1))) if (f.ref) aliases[rel] = f.fileName
        const manifest = createManifest({
          files: [...files.values()].sort((a, b) => (a.fileName < b.fileName ? -1 : 1)),
          entries: manifestEntries(outputs, vite?.root ?? process.cwd()),
          aliases,
          base: vite ? vite.base : opts.base,
          label: opts.label,
        })
        this.emitFile({ type: 'asset', fileName: manifestName, source: stringifySorted(manifest) })
      },
    },

    closeBundle: {
      order: 'post',
      sequential: true,
      async handler(this: Context, error?: Error) {
        // Never after a failed build, in watch mode, or for SSR output.
        if (error || this.meta.watchMode || isSsr(this) || !written) return
        await runPublishStep(this, { options: options.publish, retention: options.retention, vite, outDir: written.outDir, manifest: written.manifest, label: opts.label })
      },
    },
  }
}

function outDirOf(output: { dir?: string; file?: string }): string {
  return path.resolve(output.dir ?? (output.file ? path.dirname(output.file) : 'dist'))
}

/** Vite-manifest-compatible `entries`, keyed like Vite's `.vite/manifest.json`. */
function manifestEntries(outputs: BundleEntry[], root: string): Record<string, ManifestEntry> {
  const keyOf = new Map<string, string>()
  const toKey = (id: string) => path.relative(root, id.replace(/^\0/, '')).split(path.sep).join('/')
  for (const e of outputs) {
    if (e.type === 'chunk') keyOf.set(e.fileName, e.facadeModuleId ? toKey(e.facadeModuleId) : `_${path.posix.basename(e.fileName)}`)
  }
  const entries: Record<string, ManifestEntry> = {}
  // chunks first: their keys win over assets that name the same source
  const ordered = [...outputs].sort((a, b) => (a.type === b.type ? 0 : a.type === 'chunk' ? -1 : 1))
  for (const e of ordered) {
    if (e.type === 'chunk') {
      const key = keyOf.get(e.fileName)!
      const entry: ManifestEntry = { file: e.fileName, name: e.name }
      if (e.facadeModuleId) entry.src = key
      if (e.isEntry) entry.isEntry = true
      if (e.isDynamicEntry) entry.isDynamicEntry = true
      const imports = e.imports.filter((f) => keyOf.has(f)).map((f) => keyOf.get(f)!)
      const dynamicImports = e.dynamicImports.filter((f) => keyOf.has(f)).map((f) => keyOf.get(f)!)
      if (imports.length) entry.imports = imports
      if (dynamicImports.length) entry.dynamicImports = dynamicImports
      const css = [...(e.viteMetadata?.importedCss ?? [])]
      const assets = [...(e.viteMetadata?.importedAssets ?? [])]
      if (css.length) entry.css = css
      if (assets.length) entry.assets = assets
      entries[key] = entry
    } else if (!isSourceMap(e.fileName) && !isHtml(e.fileName)) {
      for (const original of e.originalFileNames ?? []) {
        // a stylesheet extracted from a script or page is listed under that chunk's `css`
        if (isCss(e.fileName) && !CSS_LANG_RE.test(original)) continue
        const key = toKey(path.resolve(root, original))
        if (!entries[key]) entries[key] = { file: e.fileName, src: key }
      }
    }
  }
  return entries
}

/** A plain copy of the chunk fields this plugin reads (Rolldown's output objects are not plain). */
function pickChunk(c: BundleChunk): BundleChunk {
  const { type, fileName, name, code, isEntry, isDynamicEntry, facadeModuleId, imports, dynamicImports, viteMetadata } = c
  return { type, fileName, name, code, isEntry, isDynamicEntry, facadeModuleId, imports, dynamicImports, viteMetadata }
}

function pickAsset(a: BundleAsset): BundleAsset {
  const { type, fileName, names, originalFileNames, source } = a
  return { type, fileName, names, originalFileNames, source }
}
