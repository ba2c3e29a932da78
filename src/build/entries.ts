/**
 * The manifest's `entries`: what Vite writes to `.vite/manifest.json` for the same build, computed
 * from the finished bundle (so it is there whether or not `build.manifest` is on, and under plain
 * Rollup), with the names this plugin gave the files it renamed.
 *
 * The rules, as Vite 7 and Vite 8 apply them:
 * - every chunk is listed under its facade module's path relative to the root, or `_<file name>`
 *   when it has none; `imports` and `dynamicImports` name other chunks by those keys, `css` and
 *   `assets` are Vite's `viteMetadata` of the chunk;
 * - every asset emitted with a name is listed under each of its original file names (relative to
 *   the root), or `_<file name>` when it has none, with `src` its first original file name; a key a
 *   JavaScript chunk holds stays the chunk's (a page's or script's extracted stylesheet is listed
 *   in its `css`); `css` and `assets` are the asset's `viteMetadata` when the bundler gives assets
 *   one (Vite 8);
 * - the stylesheet of an entry chunk that held nothing but CSS (a `.css` file in the build's
 *   input, which Vite drops from the bundle) is an entry: `isEntry`, the chunk's `name`, and the
 *   asset's `names`.
 */
import path from 'node:path'
import type { ManifestEntry } from './manifest-types.js'
import type { BundleAsset, BundleChunk, BundleEntry } from './outputs.js'

const JS_FILE_RE = /\.[cm]?js$/

export interface EntriesOptions {
  /** Project root: keys are paths relative to it. */
  root: string
  /** Facade module id → chunk name of every entry chunk rendered in this build, removed ones included. */
  entryChunks: ReadonlyMap<string, string>
  /** The output's format: a legacy (`system`) output lists its chunks under `-legacy` keys, as Vite does. */
  format?: string
}

/** The Vite-manifest map of the bundle `outputs` (file names as they are now). */
export function manifestEntries(outputs: BundleEntry[], { root, entryChunks, format }: EntriesOptions): Record<string, ManifestEntry> {
  const keyOfId = (id: string) => path.relative(root, id.replace(/\0/g, '')).split(path.sep).join('/')
  const keyOfOriginal = (name: string) => keyOfId(path.resolve(root, name))
  const underscore = (fileName: string) => `_${path.posix.basename(fileName)}`

  const chunkKey = (c: BundleChunk): string => {
    if (!c.facadeModuleId) return underscore(c.fileName)
    const key = keyOfId(c.facadeModuleId)
    if (format !== 'system' || c.name.includes('-legacy')) return key
    const ext = path.posix.extname(key)
    return `${ext ? key.slice(0, -ext.length) : key}-legacy${ext}`
  }
  const chunks = new Map<string, BundleChunk>()
  for (const e of outputs) if (e.type === 'chunk') chunks.set(e.fileName, e)
  const internal = (files: readonly string[]) => files.filter((f) => chunks.has(f)).map((f) => chunkKey(chunks.get(f)!))

  // entry chunks that are no longer in the bundle: Vite dropped them for holding only CSS
  const kept = new Set([...chunks.values()].map((c) => c.facadeModuleId).filter((id) => id !== null))
  const cssOnlyEntries = new Map<string, string>()
  for (const [id, name] of entryChunks) if (!kept.has(id)) cssOnlyEntries.set(keyOfId(id), name)

  const entries: Record<string, ManifestEntry> = {}
  const chunkEntry = (c: BundleChunk): ManifestEntry => {
    const entry: ManifestEntry = { file: c.fileName, name: c.name }
    if (c.facadeModuleId) entry.src = chunkKey(c)
    if (c.isEntry) entry.isEntry = true
    if (c.isDynamicEntry) entry.isDynamicEntry = true
    const imports = internal(c.imports)
    const dynamicImports = internal(c.dynamicImports)
    if (imports.length) entry.imports = imports
    if (dynamicImports.length) entry.dynamicImports = dynamicImports
    withMetadata(entry, c.viteMetadata)
    return entry
  }
  const assetEntry = (a: BundleAsset, originals: string[]): ManifestEntry => {
    const entry: ManifestEntry = { file: a.fileName, src: originals[0] ?? underscore(a.fileName) }
    const name = originals.map((o) => cssOnlyEntries.get(o)).find((n) => n !== undefined)
    if (name !== undefined) {
      entry.isEntry = true
      entry.name = name
      entry.names = [...namesOf(a)]
    }
    withMetadata(entry, a.viteMetadata)
    return entry
  }

  for (const e of outputs) {
    if (e.type === 'chunk') {
      entries[chunkKey(e)] = chunkEntry(e)
      continue
    }
    // assets emitted by file name only (HTML pages, source maps, this plugin's copies) are not listed
    if (namesOf(e).length === 0) continue
    const originals = originalsOf(e).map(keyOfOriginal)
    const entry = assetEntry(e, originals)
    for (const key of new Set([entry.src!, ...originals])) {
      const held = entries[key]
      if (!(held && JS_FILE_RE.test(held.file))) entries[key] = { ...entry }
    }
  }
  return entries
}

function withMetadata(entry: ManifestEntry, meta: BundleEntry['viteMetadata']): void {
  if (meta?.importedCss.size) entry.css = [...meta.importedCss]
  if (meta?.importedAssets.size) entry.assets = [...meta.importedAssets]
}

/** The asset's names (Rollup before 4.25 gives only `name`). */
function namesOf(a: BundleAsset): readonly string[] {
  return a.names ?? (a.name ? [a.name] : [])
}

/** The asset's original file names (Rollup before 4.25 gives only `originalFileName`). */
function originalsOf(a: BundleAsset): readonly string[] {
  return a.originalFileNames ?? (a.originalFileName ? [a.originalFileName] : [])
}
