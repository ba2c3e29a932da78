/**
 * The `generateBundle` work over the finished bundle of a client build: references the transform
 * pass could not give hashed names (stylesheets, then HTML pages), new names for every hashed file
 * whose bytes changed (and everything naming it), the warning about unhashed outputs, and
 * the manifest.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import type { BuildContext, Fingerprinted } from './context.js'
import { restoreKeptReferences } from './css-transform.js'
import { isExternalOrSpecialUrl, rewriteCssRefs, splitUrlSuffix } from './css-urls.js'
import { manifestEntries } from './entries.js'
import { planRenames } from './graph.js'
import { contentHash } from './hash.js'
import { bytesDigest, createManifest, stringifySorted, type FileDigest, type OutputFile } from './manifest.js'
import { decodeUrlPath, dirname, fingerprintedName, joinOutputPath, type HashSpan } from './names.js'
import {
  bytesOf,
  createHashLocator,
  isCss,
  isHtml,
  isSourceMap,
  setText,
  textOf,
  type Bundle,
  type BundleAsset,
  type BundleChunk,
  type BundleEntry,
  type NamePatterns,
} from './outputs.js'
import { listFiles } from './public-files.js'
import { createUrls, isRelativeUrl, type HostType } from './urls.js'
import { Codes } from '../errors.js'
import type { Context } from './types.js'

const DATA_URL_RE = /^\s*data:/i

export type OutputOptions = NamePatterns & { dir?: string; file?: string; format?: string }

/** One run of `generateBundle`: what every job of it reads, and the files it emitted itself. */
interface Pass {
  build: BuildContext
  ctx: Context
  bundle: Bundle
  outDir: string
  urls: ReturnType<typeof createUrls>
  locate: ReturnType<typeof createHashLocator>
  /** Files this pass emitted (hashed copies), which the bundle object does not show. */
  extra: Map<string, OutputFile>
}

function createPass(build: BuildContext, ctx: Context, outputOptions: OutputOptions, bundle: Bundle): Pass {
  const { vite, opts } = build
  return {
    build,
    ctx,
    bundle,
    outDir: outDirOf(outputOptions),
    urls: createUrls(vite ? vite.base : opts.base, vite?.experimental?.renderBuiltUrl),
    locate: createHashLocator(outputOptions),
    extra: new Map(),
  }
}

/** The `generateBundle` hook's body for a client output. */
export async function rewriteBundle(build: BuildContext, ctx: Context, outputOptions: OutputOptions, bundle: Bundle): Promise<void> {
  const { opts } = build
  const pass = createPass(build, ctx, outputOptions, bundle)
  const changed = restoreKeptReferences(build, bundle)
  for (const fileName of rewriteStylesheets(pass)) changed.add(fileName)
  await rewriteHtmlPages(pass)
  /** Bundle entries re-emitted under new names, which the bundle object no longer shows. */
  const moved = changed.size ? renameChanged(pass, changed) : []

  const ours = new Set([...build.fingerprinted.values()].map((f) => f.fileName))
  const hashed = (e: BundleEntry): HashSpan | boolean | undefined => ours.has(e.fileName) || pass.extra.has(e.fileName) || pass.locate(e)
  const outputs = [...Object.values(bundle), ...moved]
  /** Digests of files the pages' integrity attributes name, for the manifest to reuse. */
  const digests = new Map<string, FileDigest>()
  if (opts.sri) await addPageIntegrity(pass, outputs, hashed, digests)
  warnUnhashed(pass, outputs, hashed)
  build.written = { outDir: pass.outDir, manifest: opts.manifest }
  if (opts.manifest !== false) emitManifest(pass, opts.manifest, outputs, hashed, outputOptions.format, digests)
}

/**
 * The stylesheets of an output whose pages a framework writes itself (Astro): references kept as
 * written restored, what preprocessors compiled fingerprinted, new names for what changed.
 */
export function rewriteStylesheetAssets(build: BuildContext, ctx: Context, outputOptions: OutputOptions, bundle: Bundle): void {
  const pass = createPass(build, ctx, outputOptions, bundle)
  const changed = restoreKeptReferences(build, bundle)
  for (const fileName of rewriteStylesheets(pass)) changed.add(fileName)
  if (changed.size) renameChanged(pass, changed)
}

/** Emit a public file's hashed copy late (from this hook), counted among the files of this output. */
function emitLate(pass: Pass, rel: string): string {
  const f = pass.build.emitFingerprinted(pass.ctx, rel)
  pass.extra.set(f.fileName, { fileName: f.fileName, bytes: f.bytes, immutable: true })
  return f.fileName
}

/**
 * Stylesheets: references the transform pass could not give hashed names (plain Rollup, Sass
 * variables, unusual names). Returns the stylesheets that changed.
 */
function rewriteStylesheets(pass: Pass): Set<string> {
  const changed = new Set<string>()
  for (const entry of Object.values(pass.bundle)) {
    if (entry.type !== 'asset' || !isCss(entry.fileName)) continue
    const source = entry.originalFileNames?.[0]
    const updated = rewriteCss(pass, textOf(entry)!, entry.fileName, 'css', source && path.isAbsolute(source) ? source : source && path.resolve(source))
    if (updated !== undefined) {
      setText(entry, updated)
      changed.add(entry.fileName)
    }
  }
  return changed
}

let htmlRefs: Promise<typeof import('./html-refs.js')> | undefined

/**
 * Start loading the HTML parser (about 60 ms of module loading) while the bundler works, for a
 * build that will likely have a page: its output is then ready when `generateBundle` needs it.
 */
export function preloadHtmlParser(): void {
  htmlRefs ??= import('./html-refs.js')
  htmlRefs.catch(() => {}) // a failure shows where it is awaited
}

/**
 * HTML: resources the page loads from the public directory. The HTML parser is loaded by the
 * first output that has a page (a library or a server build has none), unless preloaded.
 */
async function rewriteHtmlPages(pass: Pass): Promise<void> {
  const { bundle, urls, build } = pass
  const pages = Object.values(bundle).filter((entry): entry is BundleAsset => entry.type === 'asset' && isHtml(entry.fileName))
  if (!pages.length) return
  const { rewriteHtml } = await (htmlRefs ??= import('./html-refs.js'))
  for (const entry of pages) {
    const page = entry.fileName
    const text = rewriteHtml(textOf(entry)!, {
      attr(value) {
        const { path: p, suffix } = splitUrlSuffix(value)
        if (p === '' || !build.opts.fingerprintPublic) return undefined
        const target = urls.outputPathOf(p, page, 'html')
        if (target === undefined || bundle[target]) return undefined
        const rel = build.publicFile(target)
        if (!rel) return undefined
        return urls.builtUrl(emitLate(pass, rel), page, 'html', isRelativeUrl(p)) + suffix
      },
      style: (css) => rewriteCss(pass, css, page, 'html'),
    })
    if (text !== undefined) setText(entry, text)
  }
}

/**
 * Subresource integrity (`sri`), once every name is final: the scripts, stylesheets and module
 * preloads of each page that name a hashed file of this output get its digest. The pages are
 * mutable and nothing names them, so editing them renames nothing.
 */
async function addPageIntegrity(pass: Pass, outputs: BundleEntry[], hashed: IsHashed, digests: Map<string, FileDigest>): Promise<void> {
  const pages = outputs.filter((e): e is BundleAsset => e.type === 'asset' && isHtml(e.fileName))
  if (!pages.length) return
  const { addIntegrity } = await (htmlRefs ??= import('./html-refs.js'))
  const byName = new Map<string, BundleEntry | OutputFile>(outputs.map((e) => [e.fileName, e]))
  for (const [name, f] of pass.extra) byName.set(name, f)
  const digestOf = (name: string): FileDigest | undefined => {
    let d = digests.get(name)
    if (d) return d
    const e = byName.get(name)
    if (!e) return undefined
    if ('type' in e) {
      if (!hashed(e)) return undefined
      d = bytesDigest(bytesOf(e))
    } else {
      if (!e.immutable || !('bytes' in e)) return undefined
      d = bytesDigest(e.bytes)
    }
    digests.set(name, d)
    return d
  }
  for (const page of pages) {
    const text = addIntegrity(textOf(page)!, (url) => {
      const { path: p } = splitUrlSuffix(url)
      const target = p === '' ? undefined : pass.urls.outputPathOf(p, page.fileName, 'html')
      return target === undefined ? undefined : digestOf(target)?.integrity
    })
    if (text !== undefined) setText(page, text)
  }
}

/** Rewrite the references of a stylesheet found in `host`; returns the new text when it changed. */
function rewriteCss(pass: Pass, css: string, host: string, hostType: HostType, sourceFile?: string): string | undefined {
  const { build, bundle, urls } = pass
  const result = rewriteCssRefs(
    css,
    (ref) => {
      if (DATA_URL_RE.test(ref.url)) return false
      const { path: p, suffix } = splitUrlSuffix(ref.url)
      if (p === '') return false
      const target = urls.outputPathOf(p, host, hostType)
      if (target === undefined && isExternalOrSpecialUrl(ref.url)) return false
      if (target !== undefined && bundle[target]) return false
      const rel = target !== undefined ? build.publicFile(target) : undefined
      if (rel) return build.opts.fingerprintPublic ? urls.builtUrl(emitLate(pass, rel), host, hostType, isRelativeUrl(p)) + suffix : false
      if (sourceFile && isRelativeUrl(p) && !build.vite) {
        const name = emitBesideSource(pass, path.resolve(path.dirname(sourceFile), decodeUrlPath(p)), host, p)
        if (name !== undefined) return urls.builtUrl(name, host, hostType, true) + suffix
      }
      // Under Vite, the transform pass reports the references it read in CSS sources; what a
      // preprocessor or a PostCSS plugin wrote is reported here.
      if ((target === undefined || !existsSync(path.join(pass.outDir, target))) && !build.readInSources.has(ref.url)) {
        build.report(pass.ctx, host, ref, host)
      }
      return false
    },
    { lowercaseUrlFunctions: true },
  )
  return result.changed ? result.code : undefined
}

/**
 * Plain Rollup: a file next to the stylesheet's source, which nothing copied into the output.
 * Emits a hashed copy (once) and returns its output name; `undefined` when there is no such file.
 */
function emitBesideSource(pass: Pass, abs: string, host: string, p: string): string | undefined {
  if (!existsSync(abs) || !statSync(abs).isFile()) return undefined
  const bytes = readFileSync(abs)
  const name = fingerprintedName(
    joinOutputPath(dirname(host), decodeUrlPath(p)) ?? path.basename(abs),
    contentHash(bytes, pass.build.opts.hashLength),
  )
  if (!pass.bundle[name] && !pass.extra.has(name)) {
    pass.ctx.emitFile({ type: 'asset', fileName: name, source: bytes })
    pass.extra.set(name, { fileName: name, bytes, immutable: true })
  }
  return name
}

/**
 * Give every hashed file whose bytes changed (and everything naming it) a new name. Returns the
 * entries re-emitted under their new names (Rolldown), as the rest of the hook should see them.
 */
function renameChanged(pass: Pass, changed: Set<string>): BundleEntry[] {
  const { bundle, ctx } = pass
  const plan = planRenames(
    Object.values(bundle).map((e) => ({ fileName: e.fileName, text: textOf(e), hashSpan: pass.locate(e) })),
    changed,
  )
  for (const [fileName, text] of plan.texts) setText(bundle[fileName], text)
  const moved: BundleEntry[] = []
  const rename = (from: string, to: string) => {
    const entry = bundle[from]
    if (!entry) return
    delete bundle[from]
    if (ctx.meta.rolldownVersion) {
      // Rolldown ignores assignments to the bundle: emit the renamed file instead.
      ctx.emitFile({ type: 'asset', fileName: to, source: bytesOf(entry) })
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
    if (entry.type === 'chunk') {
      entry.imports = entry.imports.map(renamed)
      entry.dynamicImports = entry.dynamicImports.map(renamed)
    }
    const meta = entry.viteMetadata
    if (meta) {
      meta.importedCss = new Set([...meta.importedCss].map(renamed))
      meta.importedAssets = new Set([...meta.importedAssets].map(renamed))
    }
  }
  return moved
}

type IsHashed = (e: BundleEntry) => HashSpan | boolean | undefined

/** Warn about output files whose names carry no content hash: they are published as no-cache. */
function warnUnhashed(pass: Pass, outputs: BundleEntry[], hashed: IsHashed): void {
  const manifestName = pass.build.opts.manifest
  const unhashed = outputs
    .filter((e) => !hashed(e) && !isHtml(e.fileName) && !isSourceMap(e.fileName))
    .filter((e) => e.fileName !== manifestName && !e.fileName.startsWith('.vite/') && !pass.build.framework?.unhashedOnPurpose?.(e.fileName))
    .map((e) => e.fileName)
    .sort()
  if (!unhashed.length) return
  pass.ctx.warn({
    code: Codes.UNHASHED_OUTPUT,
    message:
      `${unhashed.length} output file(s) carry no content hash in their name and will be served with ` +
      `no-cache (their URL does not change when their bytes do): ${unhashed.join(', ')}. ` +
      'Add [hash] to the matching entryFileNames/chunkFileNames/assetFileNames pattern to make them immutable.',
    files: unhashed,
  })
}

/** Emit the manifest: every file of the output (the copied public directory included), entries, aliases. */
function emitManifest(
  pass: Pass,
  manifestName: string,
  outputs: BundleEntry[],
  hashed: IsHashed,
  format: string | undefined,
  digests: ReadonlyMap<string, FileDigest>,
): void {
  const { build } = pass
  const { vite, opts } = build
  const files = new Map<string, OutputFile>()
  // Each public file fingerprinted in this build is hashed once: its copy and, when Vite copies it
  // too, the file itself share the digest of the bytes read to name the copy.
  const copies = new Map([...build.fingerprinted.values()].map((f) => [f.fileName, f]))
  const digestOf = (f: Fingerprinted) => (f.digest ??= bytesDigest(f.bytes))
  // the files Vite copies from its public directory (a framework's web root is not copied)
  const publicDir = vite?.publicDir
  if (vite && vite.build.copyPublicDir !== false && publicDir) {
    for (const rel of listFiles(publicDir)) {
      const f = build.publicSourceOf(rel) === publicDir ? build.fingerprinted.get(rel) : undefined
      files.set(rel, f ? { fileName: rel, digest: digestOf(f), immutable: false } : { fileName: rel, path: path.join(publicDir, rel), immutable: false })
    }
  }
  for (const [name, f] of pass.extra) {
    const copy = copies.get(name)
    const digest = digests.get(name) ?? (copy ? digestOf(copy) : undefined)
    files.set(name, digest ? { fileName: name, digest, immutable: f.immutable } : f)
  }
  for (const e of outputs) {
    if (e.fileName === manifestName) continue
    const bytes = bytesOf(e)
    const copy = copies.get(e.fileName)
    // a copy whose bytes a plugin before this one changed is hashed as it now is
    const digest = digests.get(e.fileName) ?? (copy && sameBytes(bytes, copy.bytes) ? digestOf(copy) : undefined)
    files.set(e.fileName, digest ? { fileName: e.fileName, digest, immutable: Boolean(hashed(e)) } : { fileName: e.fileName, bytes, immutable: Boolean(hashed(e)) })
  }
  const aliases: Record<string, string> = {}
  for (const [rel, f] of [...build.fingerprinted].sort(([a], [b]) => (a < b ? -1 : 1))) if (f.ref) aliases[rel] = f.fileName
  const manifest = createManifest({
    files: [...files.values()].sort((a, b) => (a.fileName < b.fileName ? -1 : 1)),
    entries: manifestEntries(outputs, { root: vite?.root ?? process.cwd(), entryChunks: build.entryChunks, format }),
    aliases,
    base: vite ? vite.base : opts.base,
    label: opts.label,
  })
  pass.ctx.emitFile({ type: 'asset', fileName: manifestName, source: stringifySorted(manifest) })
}

/** Whether two contents are the same bytes. */
function sameBytes(a: Uint8Array | string, b: Uint8Array): boolean {
  return typeof a !== 'string' && a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

function outDirOf(output: { dir?: string; file?: string }): string {
  return path.resolve(output.dir ?? (output.file ? path.dirname(output.file) : 'dist'))
}

/** A plain copy of the chunk fields this plugin reads (Rolldown's output objects are not plain). */
function pickChunk(c: BundleChunk): BundleChunk {
  const { type, fileName, name, code, isEntry, isDynamicEntry, facadeModuleId, imports, dynamicImports, viteMetadata } = c
  return { type, fileName, name, code, isEntry, isDynamicEntry, facadeModuleId, imports, dynamicImports, viteMetadata }
}

function pickAsset(a: BundleAsset): BundleAsset {
  const { type, fileName, names, originalFileNames, source, viteMetadata } = a
  return { type, fileName, names, originalFileNames, source, viteMetadata }
}
