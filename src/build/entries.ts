/**
 * The manifest's `entries`: the Vite-manifest-compatible map from source modules to the output
 * files they became, keyed like Vite's `.vite/manifest.json`.
 */
import path from 'node:path'
import type { ManifestEntry } from './manifest-types.js'
import { CSS_LANG_RE } from './filter.js'
import { isCss, isHtml, isSourceMap, type BundleEntry } from './outputs.js'

/** Vite-manifest-compatible `entries`, keyed like Vite's `.vite/manifest.json`. */
export function manifestEntries(outputs: BundleEntry[], root: string): Record<string, ManifestEntry> {
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
