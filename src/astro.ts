/**
 * The Astro integration (`vite-plugin-cdn-publish/astro`): `integrations: [cdnPublish(options)]`
 * in astro.config.mjs, with the options of the Vite plugin.
 *
 * Astro 5 runs two Vite builds (server, then client; Astro 6 runs prerender, server and client
 * environments in one `buildApp`, with the same outcome here), then writes the pages, moves the assets the
 * server build emitted into the client directory, and calls `astro:build:done`. Astro records the
 * names of the files it builds (its server manifest, the pages), so nothing here renames a file
 * after a build wrote it. What the integration does:
 *
 * - in both Vite builds, the stylesheet transform of the Vite plugin only: a public file a
 *   stylesheet names gets a fingerprinted copy (`img/pub.png` → `img/pub-<hash>.png`) before Vite
 *   hashes the stylesheet. Astro builds page CSS in its server build, so the transform runs there
 *   too; the copies it emits there are written to the server directory, and put into the client
 *   directory when the build is done (Astro moves only its `_astro/` assets);
 * - once, in `astro:build:done`: the deploy core over the directory Astro deploys, `dist/`
 *   (static output) or `build.client` (`dist/client`, server output), or `publish.dir`: every page, `_astro/` and
 *   every public file; the pages get the public files they name fingerprinted (`<img src>`,
 *   inline `<style>`), and the manifest is written from the directory.
 *
 * Pages a server renders on request are not on disk: the public files they name are published
 * under their own names, unversioned.
 */
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BuildContext, Fingerprinted } from './build/context.js'
import { cssTransformFilter } from './build/filter.js'
import type { OutputOptions } from './build/bundle-rewrite.js'
import type { Bundle } from './build/outputs.js'
import type { Context, ViteConfigLike } from './build/types.js'
import type { CdnPublishOptions } from './options/types.js'
import type { ResolvedOptions } from './options/resolve.js'

/** The parts of Astro's integration API used here (Astro 5), typed loosely to fit Astro's own types. */
export interface CdnPublishAstroIntegration {
  name: 'cdn-publish'
  hooks: {
    'astro:config:setup': (params: { command: string; updateConfig(config: { vite: { plugins: { name: string }[] } }): unknown }) => void
    'astro:config:done': (params: { config: AstroConfigLike }) => void
    'astro:build:start': () => void
    'astro:build:done': (params: { dir: URL; logger: AstroLoggerLike }) => Promise<void>
  }
}

interface AstroConfigLike {
  root: URL
  base: string
}

interface AstroLoggerLike {
  info(message: string): void
  warn(message: string): void
}

/** Create the integration. */
export function cdnPublish(options: CdnPublishOptions = {}): CdnPublishAstroIntegration {
  /** Loaded by the first Vite build. */
  let run: typeof import('./runtime.js') | undefined
  let build: BuildContext | undefined
  let vite: ViteConfigLike | undefined
  let astro: AstroConfigLike | undefined
  /** The options of the last Vite build; undefined until they are valid. */
  let resolved: ResolvedOptions | undefined
  /** The fingerprinted copies the Vite builds of this `astro build` emitted, by output path. */
  const copies = new Map<string, Fingerprinted>()

  /** The stylesheet transform of the Vite plugin, in every Vite build of `astro build`. */
  const stylesheets = {
    name: 'cdn-publish:astro-stylesheets',
    enforce: 'pre' as const,
    apply: 'build' as const,
    configResolved(config: ViteConfigLike) {
      vite = config
    },
    async buildStart(this: Context) {
      run ??= await import('./runtime.js')
      build ??= run.createBuildContext({ serverStylesheets: true })
      build.configure(vite!)
      resolved = undefined
      try {
        resolved = run.resolveOptions(options, vite!)
      } catch (err) {
        run.fail(this, err)
      }
      build.start(resolved!.build)
    },
    transform: {
      filter: cssTransformFilter,
      handler(this: Context, code: string, id: string) {
        return run!.transformCss(build!, this, code, id)
      },
    },
    generateBundle(this: Context, outputOptions: OutputOptions, bundle: Bundle) {
      run!.rewriteStylesheetAssets(build!, this, outputOptions, bundle)
      for (const f of build!.fingerprinted.values()) copies.set(f.fileName, f)
    },
  }

  return {
    name: 'cdn-publish',
    hooks: {
      'astro:config:setup': ({ command, updateConfig }) => {
        if (command === 'build') updateConfig({ vite: { plugins: [stylesheets] } })
      },
      'astro:config:done': ({ config }) => {
        astro = config
      },
      'astro:build:start': () => {
        copies.clear()
        resolved = undefined
      },
      'astro:build:done': async ({ dir, logger }) => {
        if (!run || !resolved || !astro) return
        const out = fileURLToPath(dir)
        // the copies the server build wrote to its own directory
        for (const f of copies.values()) {
          const file = path.join(out, f.fileName)
          if (existsSync(file)) continue
          await mkdir(path.dirname(file), { recursive: true })
          await writeFile(file, f.bytes)
        }
        const root = run.projectRoot(fileURLToPath(astro.root))
        // page URLs are under Astro's `base` (`build.assetsPrefix` is for the files Vite emits)
        const base = astro.base.endsWith('/') ? astro.base : `${astro.base}/`
        const optionsHere: ResolvedOptions = { ...resolved, build: { ...resolved.build, base } }
        await run.publishAfterBuild(run.loggerContext(logger), { options: optionsHere, vite: undefined, root, dir: run.chosenDir(resolved, root) ?? out })
      },
    },
  }
}


export default cdnPublish
export type { CdnPublishOptions } from './options/types.js'
