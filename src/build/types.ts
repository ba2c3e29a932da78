/**
 * The shapes of the host this plugin runs in: what it reads of Vite's resolved config, and the
 * parts of the Rollup/Rolldown plugin context its hooks use. Types only, importable from anywhere.
 */
import type { RenderBuiltUrl } from './urls.js'

/** What this plugin reads of Vite's resolved config. */
export interface ViteConfigLike {
  root: string
  mode: string
  envDir?: string | false
  logger?: { info(msg: string): void; warn(msg: string): void; error(msg: string): void }
  base: string
  command: 'build' | 'serve'
  publicDir: string
  build: { outDir: string; ssr?: unknown; lib?: unknown; copyPublicDir?: boolean; sourcemap?: boolean | 'inline' | 'hidden' }
  server?: { fs?: { allow?: string[] } }
  experimental?: { renderBuiltUrl?: RenderBuiltUrl }
  /** The plugins of the build, by which a framework is recognised. */
  plugins?: readonly ({ name?: string } | null | undefined | false)[]
}

/** The parts of Rollup's/Rolldown's plugin context used here. */
export interface Context {
  emitFile(file: { type: 'asset'; fileName: string; source: Uint8Array | string }): string
  warn(log: { code: string; message: string; [key: string]: unknown }): void
  error(log: { code: string; message: string; [key: string]: unknown }): never
  resolve(source: string, importer?: string): Promise<{ id: string; external?: boolean | string } | null>
  meta: { rolldownVersion?: string; watchMode?: boolean; viteVersion?: string }
  environment?: { name?: string; config?: { consumer?: string } }
}
