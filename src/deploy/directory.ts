/**
 * The final directory as it will be published: what the build's manifest says, reconciled with
 * what is on disk now that every tool has written its part (a framework's prerendered pages,
 * route manifest and copied public files come after the bundle).
 *
 * - A file on disk that the manifest does not list is added: HTML and names without a content
 *   hash are mutable, names in a hashed form (./hashed-names.ts) immutable.
 * - `.vite/` is build-internal (Vite's own manifest, read by back ends from disk): never
 *   published; its manifest entries are dropped whether a framework removed the files or not.
 * - A page written after the bundle gets the build's HTML pass: the public files it names get a
 *   fingerprinted copy, and the page names the copy.
 * - Without a manifest (any static directory) everything on disk is added that way.
 *
 * Pure apart from reading the directory: what changes is returned (`writes`), for the caller to
 * put on disk, or, in a dry run, only to show.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { contentHash } from '../build/hash.js'
import { describeFile, releaseId, stringifySorted } from '../build/manifest.js'
import type { CdnManifest, ManifestFile } from '../build/manifest-types.js'
import { fingerprintedName } from '../build/names.js'
import { isHtml } from '../build/outputs.js'
import { CdnPublishError, Codes } from '../errors.js'
import type { ResolvedSkewGuard } from '../options/types.js'
import { REPORT_FILE } from '../publish/report.js'
import { hashedNameForm } from './hashed-names.js'

/** Build-internal files: never published. */
const INTERNAL_DIR = '.vite/'
const DATA_URL_RE = /^\s*data:/i
/** What servers such as adapter-node's write next to a file for `Accept-Encoding`. */
const PRECOMPRESSED_RE = /\.(?:gz|br|zst)$/

/** One file the directory pass added, dropped, ignored, copied or rewrote, with the reason. */
export interface DirectoryChange {
  path: string
  action: 'add' | 'drop' | 'ignore' | 'fingerprint' | 'rewrite'
  /** For added and copied files: whether the name is served as immutable. */
  immutable?: boolean
  reason: string
}

export interface DirectoryInput {
  /** Absolute directory to publish. */
  dir: string
  /** The manifest's path relative to `dir`. */
  manifest: string
  /** Base URL the pages are served under, when the directory has no manifest (default `/`). */
  base?: string
  /** Give the public files late pages name fingerprinted copies (the `fingerprint.public` option). */
  fingerprintPublic: boolean
  hashLength: number
  /** Give the scripts, stylesheets and module preloads of late pages integrity attributes (the `sri` option). */
  sri?: boolean
  /** Add the runtime skew guard to every page, and `cdn-release.json` (the `skewGuard` option). */
  skewGuard?: ResolvedSkewGuard | false
  /** Label of the release, when the directory has no manifest to take it from. */
  label?: string | undefined
}

export interface FinalDirectory {
  manifest: CdnManifest
  /** The manifest as written (sorted keys). */
  manifestText: string
  /** Whether the build wrote a manifest (false: built here from the directory alone). */
  built: boolean
  changes: DirectoryChange[]
  /** Files whose bytes on disk are not final yet (copies, rewritten pages, the manifest), by path. */
  writes: Map<string, Uint8Array>
}

export async function finalDirectory(input: DirectoryInput): Promise<FinalDirectory> {
  const { dir } = input
  const onDisk = await listFiles(dir)
  const built = await readBuiltManifest(dir, input.manifest, onDisk.has(input.manifest))
  const changes: DirectoryChange[] = []
  const writes = new Map<string, Uint8Array>()
  const files: Record<string, ManifestFile> = { ...built?.files }
  const aliases: Record<string, string> = { ...built?.aliases }
  /** Record a change; a second reason for a path already changed is appended to the first. */
  const change = (c: DirectoryChange) => {
    const earlier = changes.find((e) => e.path === c.path && e.action === c.action)
    if (earlier) earlier.reason += `; ${c.reason}`
    else changes.push(c)
  }
  const pageText = async (page: string) => (writes.has(page) ? Buffer.from(writes.get(page)!).toString('utf8') : await readFile(path.join(dir, page), 'utf8'))

  for (const p of Object.keys(files)) {
    if (!p.startsWith(INTERNAL_DIR)) continue
    delete files[p]
    const gone = !onDisk.has(p)
    changes.push({ path: p, action: 'drop', reason: gone ? 'build-internal (.vite/), removed after the build' : 'build-internal (.vite/), not served' })
  }

  const late: string[] = []
  for (const p of [...onDisk].sort()) {
    if (p === input.manifest || files[p]) continue
    if (p.startsWith(INTERNAL_DIR)) {
      if (!built) changes.push({ path: p, action: 'ignore', reason: 'build-internal (.vite/), not served' })
      continue
    }
    const precompressed = PRECOMPRESSED_RE.exec(p)
    if (precompressed && onDisk.has(p.slice(0, precompressed.index))) {
      changes.push({ path: p, action: 'ignore', reason: `a precompressed copy of ${p.slice(0, precompressed.index)} (a bucket serves one encoding per key: see publish.precompress)` })
      continue
    }
    if (path.posix.basename(p) === REPORT_FILE) {
      changes.push({ path: p, action: 'ignore', reason: 'a publish report, not part of the site' })
      continue
    }
    const form = hashedNameForm(p)
    const immutable = !isHtml(p) && form !== undefined
    files[p] = describeFile({ fileName: p, path: path.join(dir, p), immutable })
    changes.push({ path: p, action: 'add', immutable, reason: addReason(p, form, Boolean(built)) })
    if (isHtml(p)) late.push(p)
  }

  const base = built?.base ?? input.base ?? '/'
  if (input.fingerprintPublic && late.length) {
    const fingerprint = async (target: string): Promise<string> => {
      const bytes = await readFile(path.join(dir, target))
      const copy = fingerprintedName(target, contentHash(bytes, input.hashLength))
      if (!files[copy]) {
        files[copy] = describeFile({ fileName: copy, bytes, immutable: true })
        if (!onDisk.has(copy)) writes.set(copy, bytes)
        changes.push({ path: copy, action: 'fingerprint', immutable: true, reason: `fingerprinted copy of ${target}` })
      }
      aliases[target] = copy
      return copy
    }
    for (const page of late) {
      const text = await readFile(path.join(dir, page), 'utf8')
      const updated = await rewritePage(text, page, base, files, fingerprint)
      if (updated === undefined) continue
      writes.set(page, Buffer.from(updated.text))
      files[page] = describeFile({ fileName: page, bytes: updated.text, immutable: false })
      changes.push({ path: page, action: 'rewrite', reason: `names the fingerprinted copies of ${updated.named.join(', ')}` })
    }
  }

  if (input.sri && late.length) {
    const { addIntegrity } = await import('../build/html-refs.js')
    const urls = await pageUrls(base)
    for (const page of late) {
      const text = await pageText(page)
      const named: string[] = []
      const updated = addIntegrity(text, (url) => {
        const target = urls.targetOf(url, page)
        const file = target === undefined ? undefined : files[target]
        if (!file?.immutable) return undefined
        named.push(target!)
        return file.integrity
      })
      if (updated === undefined) continue
      writes.set(page, Buffer.from(updated))
      files[page] = describeFile({ fileName: page, bytes: updated, immutable: false })
      change({ path: page, action: 'rewrite', reason: `integrity of ${[...new Set(named)].sort().join(', ')}` })
    }
  }

  if (input.skewGuard) {
    const { addSkewGuard } = await import('../build/skew-guard.js')
    await addSkewGuard({
      files,
      writes,
      onDisk,
      base,
      hashLength: input.hashLength,
      sri: input.sri ?? false,
      guard: input.skewGuard,
      readPage: pageText,
      change: (p, action, reason, immutable) => change({ path: p, action, reason, ...(immutable !== undefined ? { immutable } : {}) }),
    })
  }

  if (Object.keys(files).length === 0) {
    throw new CdnPublishError(Codes.PUBLISH_FAILED, `${dir} holds nothing to publish: no file${built ? ' in its manifest or' : ''} on disk. Build first, or name the directory the site is in.`, { file: dir })
  }

  const label = built?.label ?? input.label
  const release = releaseId(files)
  if (built && !changes.length && release === built.release && built.entries && built.aliases && built.base !== undefined) {
    // the build's manifest is final as it is: published as the build wrote it, not written again
    const { text, ...manifest } = built
    return { manifest, manifestText: text, built: true, changes, writes }
  }
  const manifest: CdnManifest = {
    version: 1,
    release,
    ...(label !== undefined ? { label } : {}),
    base,
    entries: built?.entries ?? {},
    files,
    aliases,
  }
  const manifestText = stringifySorted(manifest)
  if (manifestText !== built?.text) writes.set(input.manifest, Buffer.from(manifestText))
  return { manifest, manifestText, built: Boolean(built), changes, writes }
}

function addReason(p: string, form: string | undefined, built: boolean): string {
  const origin = built ? 'written after the build' : 'found in the directory'
  if (isHtml(p)) return `page ${origin}, mutable`
  return form ? `${origin}, name carries a content hash (${form}), immutable` : `${origin}, no content hash in its name, mutable`
}

/**
 * The page with every public file it names (resource attributes, inline styles) replaced by its
 * fingerprinted copy, as the build's HTML pass does; undefined when it names none. A public file
 * here is any mutable file of the directory other than a page.
 */
async function rewritePage(
  html: string,
  page: string,
  base: string,
  files: Record<string, ManifestFile>,
  fingerprint: (target: string) => Promise<string>,
): Promise<{ text: string; named: string[] } | undefined> {
  // the HTML and CSS scanners load only for a directory with late pages
  const [{ rewriteHtml }, { rewriteCssRefs, splitUrlSuffix }, { createUrls, isRelativeUrl }] = await Promise.all([
    import('../build/html-refs.js'),
    import('../build/css-urls.js'),
    import('../build/urls.js'),
  ])
  const urls = createUrls(base)
  const paths = await pageUrls(base)
  const named = new Set<string>()
  const targetOf = (url: string) => {
    const target = paths.targetOf(url, page)
    return target !== undefined && files[target] && !files[target].immutable && !isHtml(target) ? target : undefined
  }
  // fingerprint first (reading files is async), then rewrite with the copies' names known
  const wanted = new Set<string>()
  const want = (url: string) => {
    const target = targetOf(url)
    if (target !== undefined) wanted.add(target)
    return undefined
  }
  rewriteHtml(html, {
    attr: want,
    style: (css) => {
      rewriteCssRefs(css, (ref) => want(ref.url) ?? false)
      return undefined
    },
  })
  const copies = new Map<string, string>()
  for (const target of [...wanted].sort()) copies.set(target, await fingerprint(target))
  const replace = (url: string, hostType: 'html') => {
    const target = targetOf(url)
    if (target === undefined) return undefined
    named.add(target)
    const { path: p, suffix } = splitUrlSuffix(url)
    return urls.builtUrl(copies.get(target)!, page, hostType, isRelativeUrl(p)) + suffix
  }
  const text = rewriteHtml(html, {
    attr: (value) => replace(value, 'html'),
    style: (css) => {
      const r = rewriteCssRefs(css, (ref) => replace(ref.url, 'html') ?? false)
      return r.changed ? r.code : undefined
    },
  })
  return text === undefined ? undefined : { text, named: [...named].sort() }
}

/** The directory path a URL of a page names (undefined: another site, a data URL, nothing). */
async function pageUrls(base: string): Promise<{ targetOf(url: string, page: string): string | undefined }> {
  const [{ isExternalOrSpecialUrl, splitUrlSuffix }, { createUrls }] = await Promise.all([import('../build/css-urls.js'), import('../build/urls.js')])
  const urls = createUrls(base)
  return {
    targetOf(url, page) {
      const { path: p } = splitUrlSuffix(url)
      if (p === '' || DATA_URL_RE.test(url) || isExternalOrSpecialUrl(url)) return undefined
      return urls.outputPathOf(p, page, 'html')
    },
  }
}

/** Every file under `dir`, as POSIX paths relative to it (symbolic links followed to files). */
async function listFiles(dir: string): Promise<Set<string>> {
  const out = new Set<string>()
  const walk = async (rel: string) => {
    let entries
    try {
      entries = await readdir(path.join(dir, rel), { withFileTypes: true })
    } catch (err) {
      if (rel === '') throw new CdnPublishError(Codes.PUBLISH_FAILED, `cannot read the directory to publish, ${dir}: ${(err as Error).message}.`, { file: dir })
      throw err
    }
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) await walk(p)
      else if (e.isFile()) out.add(p)
      else if (e.isSymbolicLink()) {
        const s = await stat(path.join(dir, p)).catch(() => undefined)
        if (s?.isDirectory()) await walk(p)
        else if (s?.isFile()) out.add(p)
      }
    }
  }
  await walk('')
  return out
}

/** The build's manifest, checked as far as reconciling needs; undefined when there is none. */
async function readBuiltManifest(dir: string, name: string, present: boolean): Promise<(CdnManifest & { text: string }) | undefined> {
  if (!present) return undefined
  const file = path.join(dir, name)
  const text = await readFile(file, 'utf8')
  let manifest: CdnManifest
  try {
    manifest = JSON.parse(text) as CdnManifest
  } catch (err) {
    throw new CdnPublishError(Codes.PUBLISH_FAILED, `the manifest ${file} is not valid JSON (${(err as Error).message}): rebuild.`, { file })
  }
  if (manifest?.version !== 1 || typeof manifest.release !== 'string' || !manifest.files || typeof manifest.files !== 'object') {
    throw new CdnPublishError(Codes.PUBLISH_FAILED, `${file} is not a manifest written by this plugin (version 1 with release and files): rebuild.`, { file })
  }
  return { ...manifest, text }
}
