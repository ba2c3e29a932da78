/** One entry of the Vite-manifest-compatible `entries` map. */
export interface ManifestEntry {
  /** Output path of the chunk or asset, relative to `outDir`. */
  file: string
  /** Source path relative to the project root, when known. */
  src?: string
  /** Logical name of the chunk (Rollup's `name`); for a stylesheet entry, the name of the entry it was built for. */
  name?: string
  /** For a stylesheet entry: the names its asset was emitted with. */
  names?: string[]
  /** True for entry chunks, and for stylesheets that are entry points themselves (a `.css` file in the build's input). */
  isEntry?: boolean
  /** True for chunks loaded with dynamic `import()`. */
  isDynamicEntry?: boolean
  /** Keys (in `entries`) of chunks this one imports statically. */
  imports?: string[]
  /** Keys (in `entries`) of chunks this one imports dynamically. */
  dynamicImports?: string[]
  /** Output paths of the CSS files this chunk needs. */
  css?: string[]
  /** Output paths of the assets this chunk references. */
  assets?: string[]
}

/** What is known of one published file. */
export interface ManifestFile {
  /** Size in bytes. */
  size: number
  /** Subresource-integrity digest, `sha384-<base64>`. */
  integrity: string
  /** MIME type to serve it with. */
  contentType: string
  /** True when the name carries a content hash: the bytes behind the name never change. */
  immutable: boolean
}

/** The stable-named manifest (`cdn-manifest.json` by default). */
export interface CdnManifest {
  /** Format version. */
  version: 1
  /** Release id: a hash of the sorted `(path, integrity)` list, so identical builds are one release. */
  release: string
  /** Human tag of the build (for example a commit), when one was set. */
  label?: string
  /** The public URL prefix the build was made for (Vite's `base`). */
  base: string
  /** What Vite writes to `.vite/manifest.json` for the same build, with the names of files this plugin renamed. */
  entries: Record<string, ManifestEntry>
  /** Every published path (relative to `outDir`) and what is known of it. The manifest itself is not listed. */
  files: Record<string, ManifestFile>
  /** Logical name → versioned name for fingerprinted public files (`img/logo.png` → `img/logo-<hash>.png`). */
  aliases: Record<string, string>
}
