/**
 * Nuxt, as its module (../nuxt.ts) describes it to the plugin in Nuxt's client build.
 *
 * - Nuxt turns Vite's `publicDir` off: the web root is the project's `public/` (Nuxt 4:
 *   `<rootDir>/public`, `dir.public`), served by Nitro at the app's base URL. A stylesheet's
 *   `url(/img/x.png)` names a file there.
 * - Nitro serves only `<buildAssetsDir>` of the client build (`.nuxt/dist/client/_nuxt/` as
 *   `/_nuxt/`), so fingerprinted copies of public files go there, under Nuxt's asset base
 *   (`app.cdnURL` when set) like every other client asset.
 * - Nuxt reads the client build's Vite manifest (`manifest.json`) from disk, then deletes it.
 * - No Vite build publishes: the module does, once Nitro has assembled `.output/public`.
 */
import type { Framework } from './index.js'

export interface NuxtLayout {
  /** Absolute directories of public files: the project's `public/`, then its layers'. */
  publicDirs: string[]
  /** `app.buildAssetsDir` (default `/_nuxt/`). */
  buildAssetsDir: string
}

/** The output directory, relative to the client build's, that Nitro serves: `_nuxt`. */
export function servedDir(buildAssetsDir: string): string {
  return buildAssetsDir.replace(/^\/+|\/+$/g, '')
}

export function nuxtFramework(layout: NuxtLayout): Framework {
  const copiesDir = servedDir(layout.buildAssetsDir)
  return {
    name: 'Nuxt',
    publishIn: 'framework',
    // never asked: no Vite build publishes under Nuxt
    finalDir: async ({ clientOutDir }) => clientOutDir,
    webRoots: () => layout.publicDirs,
    unhashedOnPurpose: (f) => f === 'manifest.json',
    ...(copiesDir ? { copiesDir } : {}),
  }
}
