import { compileNamePattern, type HashSpan } from './names.js'

/** What Vite records of the stylesheets and assets a chunk (or, under Vite 8, an asset) needs. */
export interface ViteMetadata {
  importedCss: Set<string>
  importedAssets: Set<string>
}

/** The parts of a bundle entry this plugin reads (Rollup's and Rolldown's shapes agree on these). */
export interface BundleChunk {
  type: 'chunk'
  fileName: string
  name: string
  code: string
  isEntry: boolean
  isDynamicEntry?: boolean
  facadeModuleId: string | null
  imports: string[]
  dynamicImports: string[]
  viteMetadata?: ViteMetadata
}
export interface BundleAsset {
  type: 'asset'
  fileName: string
  names?: string[]
  originalFileNames?: string[]
  /** Rollup before 4.25 has these instead of `names` and `originalFileNames`. */
  name?: string
  originalFileName?: string | null
  source: string | Uint8Array
  viteMetadata?: ViteMetadata
}
export type BundleEntry = BundleChunk | BundleAsset
export type Bundle = Record<string, BundleEntry>

type Pattern = string | ((info: never) => string) | undefined
export interface NamePatterns {
  entryFileNames?: Pattern
  chunkFileNames?: Pattern
  assetFileNames?: Pattern
}

/** Extensions of files whose text can name other files. */
const TEXT_RE = /\.(?:css|m?js|cjs|html?|json|map|svg|txt|xml|webmanifest)$/i

export const isTextFile = (fileName: string) => TEXT_RE.test(fileName)
export const isSourceMap = (fileName: string) => fileName.endsWith('.map')
export const isHtml = (fileName: string) => /\.html?$/i.test(fileName)
export const isCss = (fileName: string) => /\.css$/i.test(fileName)

export function textOf(entry: BundleEntry): string | undefined {
  if (entry.type === 'chunk') return entry.code
  if (!isTextFile(entry.fileName)) return undefined
  return typeof entry.source === 'string' ? entry.source : Buffer.from(entry.source).toString('utf8')
}

/** Replace the text of a chunk or an asset. */
export function setText(entry: BundleEntry, text: string): void {
  if (entry.type === 'chunk') entry.code = text
  else entry.source = text
}

export function bytesOf(entry: BundleEntry): Uint8Array | string {
  return entry.type === 'chunk' ? entry.code : entry.source
}

/**
 * Find where the content hash sits in each bundle file's name, from the output's name patterns.
 * A file whose name does not fit the pattern it would have been named by (a fixed `fileName`,
 * a pattern without `[hash]`) carries no hash. Source maps follow their file and count as unhashed.
 */
export function createHashLocator(patterns: NamePatterns): (entry: BundleEntry) => HashSpan | undefined {
  const cache = new Map<string, (fileName: string) => HashSpan | undefined>()
  const matcherFor = (pattern: string) => {
    let m = cache.get(pattern)
    if (!m) cache.set(pattern, (m = compileNamePattern(pattern)))
    return m
  }
  const patternFor = (pattern: Pattern, entry: BundleEntry): string | undefined => {
    if (typeof pattern === 'string') return pattern
    if (typeof pattern === 'function') {
      try {
        const result = (pattern as (info: unknown) => unknown)(entry)
        return typeof result === 'string' ? result : undefined
      } catch {
        return undefined
      }
    }
    return undefined
  }
  return (entry) => {
    if (isSourceMap(entry.fileName)) return undefined
    const pattern =
      entry.type === 'asset'
        ? patternFor(patterns.assetFileNames, entry)
        : patternFor(entry.isEntry ? patterns.entryFileNames : patterns.chunkFileNames, entry)
    return pattern === undefined ? undefined : matcherFor(pattern)(entry.fileName)
  }
}
